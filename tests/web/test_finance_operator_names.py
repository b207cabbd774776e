"""The finance page names operators from the operator registry (data/operators.toml), not by
their ids, on a day settled for real (SQLite and PostgreSQL); an operator the registry lacks
shows as its id."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.web import add_web_routes
from faregate.web.finance_source import SettlementsFinance
from faregate_data import HANOI_FEED
from tests.wallets import open_funded_wallets
from ticketing.audit import Actor
from ticketing.fares.feed import load_feed
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)


def tap(seq: int, hour: int, route: str, stop: str, kind: TapKind) -> Tap:
    return Tap("gate-1", seq, 42, "alice", datetime(2026, 11, 24, hour, 0, tzinfo=HANOI),
               route, stop, kind)  # fmt: skip


async def test_revenue_by_operator_shows_their_names(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    feed = load_feed(HANOI_FEED)
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice"])
        await uow.commit()
    await ingest_and_price(
        uow_factory,
        feed,
        [
            tap(1, 7, "m2a", "m2a_01", TapKind.ENTRY),
            tap(2, 8, "m2a", "m2a_12", TapKind.EXIT),
            tap(3, 9, "bus32", "bus_cau_giay", TapKind.BOARD),
        ],
    )
    await settle(uow_factory, feed, DAY, who=Actor.administrator("t"), report_dir=tmp_path)

    async def never(request: web.Request, day: date, who: Actor) -> object:
        raise AssertionError("nothing is started here")

    app = web.Application()
    finance = SettlementsFinance(
        lambda _: uow_factory,
        report_dir=lambda _: tmp_path,
        start=never,
        operator_names={"HMC": "Hanoi Metro"},  # Transerco left out: shown by its id
    )
    add_web_routes(app, finance=finance)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get(f"/finance?day={DAY}")).text()
    assert "Hanoi Metro" in html
    assert "TRANSERCO" in html
    assert ">HMC<" not in html
    default = SettlementsFinance(lambda _: uow_factory, report_dir=lambda _: tmp_path, start=never)
    app = web.Application()
    add_web_routes(app, finance=default)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get(f"/finance?day={DAY}")).text()
    assert "Hanoi Metro" in html
    assert "Transerco" in html  # the shipped registry's short name
    assert ">TRANSERCO<" not in html
