"""What finance reads of its settlement days (`ticketing.services.settlement_days`), on SQLite
and PostgreSQL: each day's status before its cut-off, after it, while settling and settled; a
settled day's figures, exceptions and report files; and the refusals before a day is settled."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.wallets import open_funded_wallets
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.money import Money
from ticketing.services.settlement import default_report_dir, settle
from ticketing.services.settlement_days import (
    DayStatus,
    day_exceptions,
    day_status,
    list_days,
    report_file,
    settled_figures,
)
from ticketing.services.settlement_lock import settlement_lock
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.calendar import cut_off
from ticketing.settlement.errors import DayNotSettled, NoSuchStatement
from ticketing.settlement.states import ExceptionKind
from ticketing.settlement.writers import REPORT_TYPES
from ticketing.stores.settlement import StoredException
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

ADMIN_FIN = Actor.administrator("fin")
ADMIN = Actor.administrator("t")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)


def ride(account: str, day: date, hour: int) -> list[Tap]:
    def tap(seq: int, minute: int, stop: str, kind: TapKind) -> Tap:
        when = datetime(day.year, day.month, day.day, hour, minute, tzinfo=HANOI)
        return Tap(f"gate-{account}", seq, 42, account, when, "m2a", stop, kind)

    return [tap(1, 0, "m2a_01", TapKind.ENTRY), tap(2, 25, "m2a_12", TapKind.EXIT)]


def at(moment: datetime, uows: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(uows.engine, clock=lambda: moment)


async def test_a_days_status_follows_its_cut_off_and_its_run(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice"])
        await uow.commit()
    await ingest_and_price(uow_factory, feed, ride("alice", DAY, 7))
    before = at(cut_off(DAY) - timedelta(seconds=1), uow_factory)
    after = at(cut_off(DAY), uow_factory)
    assert [(d.day, d.status, d.state) for d in await list_days(before)] == [
        (DAY, DayStatus.OPEN, "open")
    ]
    listed = await day_status(after, DAY)
    assert listed is not None
    assert (listed.status, listed.state, listed.totals) == (DayStatus.CLOSED, "open", None)
    assert await day_status(after, DAY + timedelta(days=2)) is None  # not begun yet

    async def begin(uow: UnitOfWork) -> None:  # a run that stopped after its first stage
        await uow.settlement.close(DAY, who="t", at=cut_off(DAY))

    await run_in_uow(after, begin)
    async with settlement_lock(after.engine, DAY):  # its run still holds the day
        listed = await day_status(after, DAY)
    assert listed is not None
    assert (listed.status, listed.state) == (DayStatus.SETTLING, "closing (closed)")

    outcome = await settle(after, feed, DAY, who=ADMIN, report_dir=tmp_path)
    listed = await day_status(after, DAY)
    assert listed is not None
    assert (listed.status, listed.digest) == (DayStatus.SETTLED, outcome.summary.digest)
    assert listed.totals is not None
    assert listed.totals.taps == 2
    assert listed.totals.collected == Money(outcome.summary.collected.amount, "VND")
    assert listed.totals.controls_ok
    assert (await list_days(after))[0] == listed


async def test_a_settled_days_figures_exceptions_and_reports(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice", "carol"])
        await uow.commit()
    await ingest_and_price(uow_factory, feed, [*ride("alice", DAY, 7), *ride("carol", DAY, 8)])
    reports = default_report_dir(tmp_path, DAY)
    assert reports == tmp_path / "settlement" / "2026-11-24"
    with pytest.raises(DayNotSettled):
        await settled_figures(uow_factory, DAY)
    with pytest.raises(DayNotSettled):
        await report_file(uow_factory, DAY, "report.html", report_dir=reports)
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN_FIN, report_dir=reports)

    figures = await settled_figures(uow_factory, DAY)
    assert (figures.digest, figures.closed_by) == (outcome.summary.digest, "fin")
    assert "summary" not in figures.figures
    assert {s.operator for s in figures.statements} == set(outcome.summary.apportioned)
    assert len(figures.by_hour) == 24
    assert sum(m.amount for m in figures.by_hour) == figures.totals.collected.amount > 0

    async def found_a_gap(uow: UnitOfWork) -> None:
        await uow.settlement.add_exceptions(
            [
                StoredException(
                    key="payment:gateway:pi_1", kind=ExceptionKind.MISSING_AT_GATEWAY,
                    currency="VND", amount=5_000, suspense=5_000, record_day=DAY, first_seen=DAY,
                    detail={"gateway_ref": "pi_1", "ledger_ref": None},
                ),
                StoredException(
                    key="uncollected:bob:2026-11-24", kind=ExceptionKind.UNCOLLECTED,
                    currency="VND", amount=7_000, suspense=0, record_day=DAY, first_seen=DAY,
                    detail={"account": "bob"},
                ),
            ]
        )  # fmt: skip

    await run_in_uow(uow_factory, found_a_gap)
    exceptions = await day_exceptions(uow_factory, DAY)
    by_kind = {e.kind: e for e in exceptions}
    assert by_kind["missing_at_gateway"].reference == "pi_1"
    assert by_kind["missing_at_gateway"].amount == Money(5_000, "VND")
    assert by_kind["uncollected"].reference == "bob"
    assert await day_exceptions(uow_factory, DAY + timedelta(days=1)) == []

    for name, content_type in REPORT_TYPES.items():
        file = await report_file(uow_factory, DAY, name, report_dir=reports)
        assert (file.content_type, file.body) == (content_type, (reports / name).read_bytes())
    with pytest.raises(NoSuchStatement, match="not a settlement report"):
        await report_file(uow_factory, DAY, "../faregate.db", report_dir=reports)
    with pytest.raises(NoSuchStatement, match="--report-dir"):
        await report_file(uow_factory, DAY, "report.html", report_dir=tmp_path / "elsewhere")
