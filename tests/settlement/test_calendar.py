"""The settlement calendar on SQLite and PostgreSQL: every service day from the first activity
to the current one, rideless days included, each with its state; listed in a constant number
of statements whatever the span; days outside it refused; a run whose process died listed as
failed with its error, never "settling" for ever."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from faregate.cli import cli, main
from tests.helpers.settlement import DAY, ride
from tests.wallets import open_funded_wallets
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.services.settlement import settle
from ticketing.services.settlement_days import DayStatus, day_status, list_days
from ticketing.services.settlement_lock import settlement_lock
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.calendar import check_settleable, cut_off
from ticketing.settlement.errors import DayNotClosed, DayOutsideCalendar
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

ADMIN = Actor.administrator("t")
LAST = DAY + timedelta(days=3)


def clocked(uows: UnitOfWorkFactory, moment: datetime) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(uows.engine, clock=lambda: moment)


async def riders(uows: UnitOfWorkFactory, *names: str) -> None:
    async with uows() as uow:
        await open_funded_wallets(uow, list(names))
        await uow.commit()


@contextmanager
def statements(uows: UnitOfWorkFactory) -> Iterator[list[str]]:
    """The SQL statements run on `uows`' engine inside the block."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    sync = uows.engine.sync_engine
    event.listen(sync, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(sync, "before_cursor_execute", count)


async def test_every_day_from_the_first_activity_is_listed_with_its_state(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice"])
        await uow.commit()
    await ingest_and_price(
        uow_factory, feed, [*ride(1, "alice", DAY, 7), *ride(3, "alice", LAST, 7)]
    )
    now = clocked(uow_factory, cut_off(LAST) - timedelta(minutes=1))
    listed = await list_days(now)
    assert [(d.day, d.status) for d in listed] == [
        (DAY, DayStatus.CLOSED),
        (DAY + timedelta(days=1), DayStatus.CLOSED),  # nobody rode: still a day to settle
        (DAY + timedelta(days=2), DayStatus.CLOSED),
        (LAST, DayStatus.OPEN),
    ]
    assert all(d.state for d in listed)
    quiet = DAY + timedelta(days=1)
    status = await day_status(now, quiet)
    assert status is not None
    assert status.status is DayStatus.CLOSED
    outcome = await settle(now, feed, quiet, who=ADMIN, report_dir=tmp_path)
    assert outcome.summary.taps == 0
    assert outcome.summary.control_ok
    assert {d.day: d.status for d in await list_days(now)}[quiet] is DayStatus.SETTLED
    assert await day_status(now, DAY - timedelta(days=1)) is None
    assert await day_status(now, LAST + timedelta(days=1)) is None


async def test_a_day_with_only_a_top_up_starts_the_calendar(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["bob"])  # posted now: the calendar starts today
        await uow.commit()
    now = datetime.now(UTC)
    listed = await list_days(clocked(uow_factory, now + timedelta(days=2)))
    assert len(listed) == 3
    assert listed[0].status is DayStatus.CLOSED


@pytest.mark.parametrize("day", [date(1000, 1, 1), date(1969, 12, 31), DAY - timedelta(days=1)])
async def test_a_day_before_the_first_activity_is_refused(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path, day: date
) -> None:
    await riders(uow_factory, "alice", "bob")
    await ingest_and_price(uow_factory, feed, ride(1, "alice", DAY, 7))
    with pytest.raises(DayOutsideCalendar, match="not in the settlement calendar"):
        await settle(uow_factory, feed, day, who=ADMIN, report_dir=tmp_path)
    async with uow_factory() as uow:
        assert await uow.settlement.days() == []


def test_with_no_activity_at_all_no_day_can_be_settled() -> None:
    with pytest.raises(DayOutsideCalendar, match="nothing has happened yet"):
        check_settleable(DAY, None, datetime.now(UTC))


async def test_a_day_not_yet_over_is_refused(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await riders(uow_factory, "alice", "bob")
    await ingest_and_price(uow_factory, feed, ride(1, "alice", DAY, 7))
    with pytest.raises(DayNotClosed, match="cut-off"):
        await settle(uow_factory, feed, date(2999, 1, 1), who=ADMIN, report_dir=tmp_path)


async def test_listing_runs_the_same_statements_whatever_the_span(
    uow_factory: UnitOfWorkFactory, feed: FareFeed
) -> None:
    await riders(uow_factory, "alice", "bob")
    await ingest_and_price(uow_factory, feed, ride(1, "alice", DAY, 7))
    now = clocked(uow_factory, cut_off(DAY + timedelta(days=1)) - timedelta(minutes=1))
    with statements(now) as short:
        assert len(await list_days(now)) == 2
    # A device with a broken clock: taps dated 2000 and 2099.
    await ingest_and_price(
        uow_factory,
        feed,
        [*ride(5, "bob", date(2000, 1, 3), 7), *ride(7, "bob", date(2099, 6, 1), 7)],
    )
    with statements(now) as long:
        listed = await list_days(now)
    assert listed[0].day == date(2000, 1, 3)
    assert listed[-1].day == DAY + timedelta(days=1)  # 2099 is not a day that can close yet
    assert len(listed) == (DAY + timedelta(days=1) - date(2000, 1, 3)).days + 1
    assert len(long) == len(short) <= 4


async def test_a_run_whose_process_died_is_listed_failed_and_resumes(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice"])
        await uow.commit()
    await ingest_and_price(uow_factory, feed, ride(1, "alice", DAY, 7))

    async def begin(uow: UnitOfWork) -> None:  # a run that closed the day, then its process died
        await uow.settlement.close(DAY, who="t", at=cut_off(DAY))

    await run_in_uow(uow_factory, begin)
    async with settlement_lock(uow_factory.engine, DAY):  # while a run holds the day: settling
        running = await day_status(uow_factory, DAY)
        assert running is not None
        assert (running.status, running.error) == (DayStatus.SETTLING, None)
    stopped = await day_status(uow_factory, DAY)
    assert stopped is not None
    assert stopped.status is DayStatus.FAILED
    assert stopped.state == "failed (closed)"
    assert stopped.error is not None
    assert "settle the day again to resume" in stopped.error
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    assert outcome.summary.control_ok
    done = await day_status(uow_factory, DAY)
    assert done is not None
    assert (done.status, done.error) == (DayStatus.SETTLED, None)


async def test_settle_list_shows_rideless_days_and_refuses_a_day_outside_the_calendar(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await riders(uow_factory, "alice")
    await ingest_and_price(
        uow_factory, feed, [*ride(1, "alice", DAY, 7), *ride(3, "alice", LAST, 7)]
    )
    base = ["--data-dir", str(tmp_path), "--database-url", db_url]
    listed = await asyncio.to_thread(
        CliRunner().invoke, cli, ["settle", "--list", "--json", *base], catch_exceptions=False
    )
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [row["day"] for row in rows[:4]] == [
        (DAY + timedelta(days=n)).isoformat() for n in range(4)
    ]
    assert all(row["state"] for row in rows)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_unused")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:1")
    with pytest.raises(SystemExit) as exited:
        await asyncio.to_thread(main, ["settle", "1969-12-31", *base])
    assert exited.value.code != 0
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: service day 1969-12-31 is not in the settlement calendar")
