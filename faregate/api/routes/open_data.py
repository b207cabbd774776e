"""Open data for drivers' apps and message signs, public (no sign-in).

- `GET /open-data/parking`: every lot with coordinates as a ParkAPI (ParkenDD) parking site
  with its capacity and live free spaces (`parking.open_data.parking_sites`: the operator
  API's free spaces, reserved ones left out), as `{"items": [...], "total_count": n}`.
- `GET /open-data/parking/{lot_id}/history?day=YYYY-MM-DD`: one lot's free spaces every 15
  minutes of a local day (default: today), as ParkAPI history items.

Both are built at most once every `CACHE_SECONDS` per server process and say so to caches
(`Cache-Control: public, max-age`): a sign polling every second costs one build, and a
figure is at most that many seconds old.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from aiohttp import web

from faregate.api.context import CONFIG, REDIS
from faregate.api.registry import Call, RouteRegistry
from faregate.api.routes.lots import LOT_PARAMETER, day_of, lot_id_of, parking_uows
from faregate_data.operators import load_operators
from parking.occupancy import Occupancy
from parking.open_data import parking_sites, site_history
from ticketing.service_day import DEFAULT_TIMEZONE

routes = RouteRegistry()

SERVICE_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # "today" for a history asked without a day
CACHE_SECONDS = 5.0
MAX_CACHED = 256  # history answers kept (lot and day); the oldest go first


class ParkApiPage(msgspec.Struct, kw_only=True):
    """ParkAPI v3's page: parking sites (or history items) and how many. The route answers
    the bytes it built (and cached); this documents their shape."""

    items: list[dict[str, Any]]
    total_count: int


class HistoryQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    day: Annotated[str, msgspec.Meta(max_length=10)] | None = None  # the lot's day; default today


@dataclass(slots=True)
class FeedCache:
    """Answers built in the last CACHE_SECONDS, by what was asked. `now` is monotonic seconds
    (not the app's clock: one set back or fixed in a test neither freezes nor skips the
    cache); tests give their own."""

    now: Callable[[], float] = time.monotonic
    answers: dict[str, tuple[float, bytes]] = field(default_factory=dict)

    def get(self, key: str) -> bytes | None:
        found = self.answers.get(key)
        if found is None or found[0] <= self.now():
            return None
        return found[1]

    def put(self, key: str, body: bytes) -> None:
        if len(self.answers) >= MAX_CACHED:
            del self.answers[next(iter(self.answers))]
        self.answers[key] = (self.now() + CACHE_SECONDS, body)


FEED_CACHE = web.AppKey("open_data_cache", FeedCache)


def add_feed_cache(app: web.Application) -> None:
    """Give `app` its cache of open-data answers (before it starts)."""
    app[FEED_CACHE] = FeedCache()


def _answer(body: bytes) -> web.Response:
    return web.Response(
        body=body,
        content_type="application/json",
        headers={
            "Cache-Control": f"public, max-age={int(CACHE_SECONDS)}",
            "Access-Control-Allow-Origin": "*",  # open data: any site's script may read it
        },
    )


def _operator_names() -> dict[str, str]:
    registry = load_operators()
    return {operator_id: registry.name(operator_id) for operator_id in registry}


@routes.route(
    "GET", "/open-data/parking",
    summary="Every lot as a ParkAPI parking site with its live free spaces",
    tag="open-data", response=ParkApiPage,
)  # fmt: skip
async def get_parking_sites(call: Call) -> web.Response:
    cache = call.app[FEED_CACHE]
    body = cache.get("sites")
    if body is None:
        sites: dict[str, Any] = await parking_sites(
            parking_uows(call), Occupancy(call.app[REDIS]), _operator_names()
        )
        body = msgspec.json.encode(sites)
        cache.put("sites", body)
    return _answer(body)


@routes.route(
    "GET", "/open-data/parking/{lot_id}/history",
    summary="A lot's free spaces every 15 minutes of a day, as ParkAPI history items",
    tag="open-data", query=HistoryQuery, response=ParkApiPage,
    errors=[404], parameters=[LOT_PARAMETER],
)  # fmt: skip
async def get_site_history(call: Call) -> web.Response:
    asked = call.query_as(HistoryQuery).day
    lot_id = lot_id_of(call)
    day: date = (
        call.app[CONFIG].clock().astimezone(SERVICE_ZONE).date() if asked is None else day_of(asked)
    )
    key = f"history:{lot_id}:{day.isoformat()}"
    cache = call.app[FEED_CACHE]
    body = cache.get(key)
    if body is None:
        history = await site_history(parking_uows(call), lot_id, day)
        body = msgspec.json.encode(history)
        cache.put(key, body)
    return _answer(body)
