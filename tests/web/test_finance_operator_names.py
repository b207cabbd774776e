"""The finance page names operators from the operator registry (data/operators.toml), not by
their ids; an operator the registry lacks shows as its id."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.web import add_web_routes
from faregate.web.finance_source import SettlementsFinance

DAY = date(2026, 11, 24)


@dataclass
class Row:
    day: date
    state: str
    digest: str | None
    figures: dict[str, Any]


FIGURES: dict[str, Any] = {
    "currency": "VND", "taps": 3, "collected": 36_000,
    "controls": {"ok": True}, "exceptions": {}, "revenue_by_hour": {"8": 36_000},
    "statements": [
        {"operator": "HMC", "gross": 15_000, "net": 15_000},
        {"operator": "TRANSERCO", "gross": 8_000, "net": 8_000},
        {"operator": "metro-test", "gross": 13_000, "net": 13_000},
    ],
}  # fmt: skip


class SettledBackend:
    """One settled day whose statements name two registered operators and a test agency."""

    async def start(self, day: date, who: str) -> object:
        raise AssertionError("not started here")

    async def days(self) -> list[Row]:
        return [Row(DAY, "settled", "d" * 64, FIGURES)]

    async def figures(self, day: date) -> Row:
        return Row(DAY, "settled", "d" * 64, FIGURES)

    async def exceptions(self, day: date) -> list[Any]:
        return []

    async def statement(self, day: date, name: str) -> tuple[bytes, str]:
        return b"", "text/csv"


async def test_revenue_by_operator_shows_their_names() -> None:
    app = web.Application()
    finance = SettlementsFinance(SettledBackend(), clock=lambda: datetime(2026, 12, 1, tzinfo=UTC))
    add_web_routes(app, finance=finance)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get(f"/finance?day={DAY}")).text()
    assert "Hanoi Metro" in html
    assert "Transerco" in html
    assert "metro-test" in html  # not in the registry: its id
    assert ">HMC<" not in html
    assert ">TRANSERCO<" not in html
