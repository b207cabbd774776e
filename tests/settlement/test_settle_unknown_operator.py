"""A day with a ride on a route the feed does not know settles without an "unknown" operator
in its statements (issue 19), and its reports name operators from the registry, on SQLite and
PostgreSQL."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.wallets import open_funded_wallets
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.postings import UNKNOWN_OPERATOR
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)


def tap(seq: int, hour: int, route: str, stop: str, kind: TapKind) -> Tap:
    return Tap("gate-1", seq, 42, "alice", datetime(2026, 11, 24, hour, 0, tzinfo=HANOI),
               route, stop, kind)  # fmt: skip


async def test_a_ride_on_an_unknown_route_gets_no_statement(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice"])
        await uow.commit()
    await ingest_and_price(
        uow_factory,
        feed,
        [
            tap(1, 7, "m2a", "m2a_01", TapKind.ENTRY),
            tap(2, 8, "m2a", "m2a_12", TapKind.EXIT),
            tap(3, 9, "bus999", "nowhere", TapKind.BOARD),  # a route the feed does not have
        ],
    )
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    async with uow_factory() as uow:
        legs = await uow.settlement_day.unpriced_legs(DAY)
    assert [(leg.route_id, leg.operator_id) for leg in legs] == [("bus999", UNKNOWN_OPERATOR)]
    with (tmp_path / "statements.csv").open(encoding="utf-8") as statements:
        operators = [(row["operator"], row["operator_name"]) for row in csv.DictReader(statements)]
    assert operators == [("HMC", "Hanoi Metro")]
    statements_json = json.loads((tmp_path / "statements.json").read_text(encoding="utf-8"))
    assert [s["operator_name"] for s in statements_json] == ["Hanoi Metro"]
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<td title="HMC">Hanoi Metro</td>' in html
    assert ">HMC<" not in html  # the id is never shown as a name
    assert UNKNOWN_OPERATOR not in html.lower().replace("unknown at gateway", "")
    figures = json.loads((tmp_path / "settlement.json").read_text(encoding="utf-8"))
    assert [s["operator"] for s in figures["statements"]] == ["HMC"]
    assert figures["controls"]["ok"]
    assert outcome.summary.exceptions.get("unpriced_leg") == 1
