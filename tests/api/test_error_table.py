"""The error table (faregate/api/error_table.py): every error class of the packages' `errors`
modules is answered by a line of it or deliberately listed as internal; the middleware answers
from it (most specific class first), a route's own answers take precedence on that route, and
an unmapped error is a 500 the test suite sees."""

from __future__ import annotations

import importlib
import inspect
import logging
import pkgutil

import msgspec
import sqlalchemy.exc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.error_table import ERRORS, INTERNAL, ROOTS, ProblemType, problem_type
from faregate.api.errors import Problem
from faregate.api.problems import problems_middleware
from faregate.api.registry import Call, RouteRegistry
from gateways.errors import GatewayAuthError, GatewayNotFound, GatewayRequestRejected
from parking.errors import TariffError, TariffErrors, UnknownLot
from ticketing.errors import TicketingError

PACKAGES = ("qr", "gateways", "ticketing", "parking", "faregate")


def _error_classes() -> list[type[BaseException]]:
    modules = []
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        modules += [
            info.name
            for info in pkgutil.walk_packages(path, f"{package}.")
            if info.name.rpartition(".")[2] == "errors"
        ]
    modules += [f"{package}.errors" for package in PACKAGES]
    found: dict[type[BaseException], None] = {}
    for name in modules:
        for value in vars(importlib.import_module(name)).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == name
                and value is not Problem  # the HTTP layer's own: an answer already
            ):
                found[value] = None
    return list(found)


def test_every_domain_error_is_in_the_table_or_internal() -> None:
    classes = _error_classes()
    assert TariffErrors in classes  # the walk reaches nested packages and subclasses
    assert GatewayAuthError in classes
    # A class is covered by its own line or an ancestor's, never by a hierarchy's root: a new
    # `class X(TicketingError)` needs its line.
    unmapped = [
        f"{kind.__module__}.{kind.__qualname__}"
        for kind in classes
        if kind not in ROOTS
        and not issubclass(kind, Warning)  # warned, never raised (gtfs's FeedWarning)
        and not any(base in ERRORS or base in INTERNAL for base in kind.__mro__)
    ]
    assert unmapped == []
    assert not any(root in ERRORS or root in INTERNAL for root in ROOTS)
    assert not set(ERRORS) & INTERNAL
    assert all(400 <= kind.status < 600 for kind in ERRORS.values())


def test_the_most_specific_class_answers() -> None:
    assert problem_type(TariffErrors([TariffError("t.toml", "f", "bad")])) == ERRORS[TariffError]
    override = {GatewayRequestRejected: ProblemType(422, "payment-method", "Invalid")}
    # a subclass without a line of its own takes the route's answer for its parent...
    assert problem_type(GatewayNotFound("gone"), override) == override[GatewayRequestRejected]
    # ...but one with a line in the table keeps it
    assert problem_type(GatewayAuthError("key"), override) == ERRORS[GatewayAuthError]


class Unmapped(TicketingError):
    """Not in the table: what a newly added error is until it gets its line."""


class Answer(msgspec.Struct):
    ok: bool


def _app() -> web.Application:
    routes = RouteRegistry()

    @routes.route("GET", "/lot", summary="table", tag="t", response=Answer)
    async def lot(call: Call) -> Answer:
        raise UnknownLot("no lot 'x'")

    @routes.route(
        "GET", "/lot-here", summary="override", tag="t", response=Answer,
        problems={UnknownLot: ProblemType(409, "barrier-lot", "Conflict", "lot: {error}")},
    )  # fmt: skip
    async def lot_here(call: Call) -> Answer:
        raise UnknownLot("no lot 'x'")

    @routes.route("GET", "/busy", summary="pool exhausted", tag="t", response=Answer)
    async def busy(call: Call) -> Answer:
        raise sqlalchemy.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached")

    @routes.route("GET", "/new", summary="unmapped", tag="t", response=Answer)
    async def new(call: Call) -> Answer:
        raise Unmapped("secret internals")

    app = web.Application(middlewares=[problems_middleware])
    routes.mount(app, {})
    return app


async def test_the_middleware_answers_from_the_table(
    unhandled: list[logging.LogRecord],
) -> None:
    async with TestClient(TestServer(_app())) as client:
        answer = await client.get("/lot")
        assert answer.status == 404
        assert await answer.json() == {
            "type": "urn:faregate:problem:unknown-lot",
            "title": "Unknown lot",
            "status": 404,
            "detail": "no lot 'x'",
        }
        here = await client.get("/lot-here")
        assert here.status == 409
        assert (await here.json())["detail"] == "lot: no lot 'x'"
        busy = await client.get("/busy")
        assert busy.status == 503
        assert (await busy.json())["type"] == "urn:faregate:problem:busy"
        assert "QueuePool" not in await busy.text()
        assert unhandled == []
        new = await client.get("/new")
        assert new.status == 500
        assert "secret" not in await new.text()
    assert [type(r.exc_info[1]) for r in unhandled if r.exc_info] == [Unmapped]
    unhandled.clear()  # seen: this test provoked it
