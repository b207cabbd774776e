"""Errors as RFC 9457 `application/problem+json`: the one error shape every route answers with.

Handlers raise `Problem` (faregate/api/errors.py) or let a domain error through; the middleware
here turns a Problem, a domain error of the error table (faregate/api/error_table.py), aiohttp's
own HTTP errors (404, 405, 413) and any unexpected exception into a problem document. An
unexpected exception (or an error the table lists as internal) is logged with its traceback as
"unhandled" and answered with a bare 500: no internals reach the client.
"""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web
from aiohttp.typedefs import Handler

from faregate.api.error_table import problem_type
from faregate.api.errors import Problem

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


_HTTP_DETAILS = {
    404: "no such resource",
    405: "method not allowed on this resource",
    413: "request body too large",
}


def _from_http_error(error: web.HTTPException) -> Problem:
    headers = {k: v for k, v in error.headers.items() if k.lower() == "allow"}
    detail = _HTTP_DETAILS.get(error.status, error.reason)
    if error.status == 413 and error.text:
        detail = error.text  # names the limit
    return Problem(error.status, None, error.reason, detail, headers=headers)


@web.middleware
async def problems_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Problem as problem:
        return problem_response(problem)
    except web.HTTPException as error:
        if error.status < 400:  # redirects and 304s pass through as they are
            raise
        return problem_response(_from_http_error(error))
    except Exception as error:
        found = problem_type(error)
        if found is not None:
            return problem_response(found.problem(error))
        log.exception("unhandled error on %s %s", request.method, request.rel_url)
        return problem_response(
            Problem(500, None, "Internal Server Error", "the server failed to answer; retry")
        )
