"""Errors as RFC 9457 `application/problem+json`: the one error shape every route answers with.

Handlers raise `Problem` (faregate/api/errors.py) or let a domain error through; the middleware
here turns a Problem, a domain error of the error table (faregate/api/error_table.py), aiohttp's
own HTTP errors (404, 405, 413) and any unexpected exception into a problem document. An
unexpected exception (or an error the table lists as internal) is logged with its traceback as
"unhandled" and answered with a bare 500: no internals reach the client.

Riders read the problems of the passenger routes (`/api/v1/passenger...`, `/api/v1/sessions`):
their title and detail come in the language of `Accept-Language`, Vietnamese when it names
none of ours (faregate.i18n; the page sends its own). A detail the catalogue has word for word
is translated; one made for the occasion (it names a field or a value) is the translated
sentence of its problem type (`RIDER_DETAILS`) with the English detail after it in brackets;
other routes (devices, staff) answer in English.
"""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from faregate import i18n
from faregate.api.error_table import problem_type
from faregate.api.errors import PROBLEM_BASE, Problem
from faregate.i18n import N_

PROBLEM_JSON = "application/problem+json"

log = logging.getLogger(__name__)


class FieldProblem(msgspec.Struct, kw_only=True):
    """One error of a document that has several: where (`field`) and why (`reason`)."""

    field: str
    reason: str


class ProblemDocument(msgspec.Struct, kw_only=True, omit_defaults=True):
    """An RFC 9457 problem: `type` names the kind of error, `detail` this occurrence;
    `errors`, when a document had several, each with its field and reason."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = None


def problem_document(problem: Problem) -> ProblemDocument:
    return ProblemDocument(
        type=problem.type,
        title=problem.title,
        status=problem.status,
        detail=problem.detail,
        errors=[FieldProblem(field=f, reason=r) for f, r in problem.errors] or None,
    )


def problem_response(problem: Problem) -> web.Response:
    return web.Response(
        body=msgspec.json.encode(problem_document(problem)),
        status=problem.status,
        content_type=PROBLEM_JSON,
        headers=problem.headers,
    )


HTTP_DETAILS = {
    404: N_("no such resource"),
    405: N_("method not allowed on this resource"),
    413: N_("request body too large"),
}
INTERNAL_DETAIL = N_("the server failed to answer; retry")
# What a rider reads for a problem whose detail was made for the occasion (see the docstring).
RIDER_DETAILS = {
    "validation": N_("What was sent is not valid"),
    "rate-limited": N_("Too many attempts; wait a little and try again"),
    "pass-on-another-phone": N_("Your pass is on another phone"),
    "move-limit": N_("Your pass has been moved as many times as it can be today"),
    "pass-not-sold": N_("This pass is not sold"),
    "pass-overlaps": N_("You already hold a pass for that time"),
    "card-declined": N_("Your card was declined"),
    "unknown-record": N_("Not found"),
    "payment-in-progress": N_("A payment is already in progress; wait for it to finish"),
}
RIDER_PATHS = ("/api/v1/passenger", "/api/v1/sessions")


def _from_http_error(error: web.HTTPException) -> Problem:
    headers = {k: v for k, v in error.headers.items() if k.lower() == "allow"}
    detail = HTTP_DETAILS.get(error.status, error.reason)
    if error.status == 413 and error.text:
        detail = error.text  # names the limit
    return Problem(error.status, None, error.reason, detail, headers=headers)


def rider_language(request: web.Request) -> str | None:
    """The language a rider's problem is told in; None for routes that answer in English."""
    if not request.path.startswith(RIDER_PATHS):
        return None
    return i18n.from_accept_language(request.headers.get("Accept-Language")) or (
        i18n.DEFAULT_LANGUAGE
    )


def translated(problem: Problem, language: str | None) -> Problem:
    """`problem` in the rider's `language` (see the module docstring)."""
    if language is None or language == i18n.ENGLISH:
        return problem
    sentence = RIDER_DETAILS.get(problem.type.removeprefix(PROBLEM_BASE))
    problem.detail = i18n.refusal(problem.detail, sentence, language)
    problem.title = i18n.gettext(language, problem.title)
    problem.headers.setdefault("Content-Language", language)
    return problem


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    language = rider_language(request)
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(translated(problem, language))
    except web.HTTPException as error:
        if error.status < 400:  # redirects and 304s pass through as they are
            raise
        return problem_response(translated(_from_http_error(error), language))
    except Exception as error:
        found = problem_type(error)
        if found is not None:
            return problem_response(translated(found.problem(error), language))
        log.exception("unhandled error on %s %s", request.method, request.rel_url)
        return problem_response(
            translated(Problem(500, None, "Internal Server Error", INTERNAL_DETAIL), language)
        )
