"""The settlement run on SQLite and PostgreSQL: idempotent reruns, the lock, the cut-off,
late taps as adjustments, a crash between stages, and the CLI's JSON and errors."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, text

from faregate.cli import cli, main
from faregate.cli._common import administrator
from tests.helpers.settlement import DAY, NEXT, at, ride
from tests.wallets import open_funded_wallets
from ticketing import postings
from ticketing.audit import Actor, ActorRole, AuditAction, AuditQuery
from ticketing.db.models import PricedDayRow
from ticketing.db.payments_models import PaymentAttemptRow
from ticketing.db.settlement_models import SettledAccountDayRow, SettlementAdjustmentRow
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.money import Money
from ticketing.payments.model import AttemptStatus, PaymentPurpose
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.settlement import SettlementOutcome, settle
from ticketing.services.settlement_days import list_days
from ticketing.services.settlement_lock import settlement_lock
from ticketing.services.settlement_runs import request_prepare, run_of
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.calendar import cut_off
from ticketing.settlement.errors import DayNotClosed, SettlementInProgress
from ticketing.settlement.states import ExceptionKind, RunState
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN_A = Actor.administrator("a")
ADMIN_B = Actor.administrator("b")
ADMIN = Actor.administrator("t")


async def city(uows: UnitOfWorkFactory, feed: FareFeed) -> None:
    """Two prepaid riders with money in their wallets, rides on DAY."""
    async with uows() as uow:
        await open_funded_wallets(uow, ["alice", "carol"])
        await uow.commit()
    await ingest_and_price(uows, feed, [*ride(1, "alice", DAY, 7), *ride(1, "carol", DAY, 8)])


async def row_counts(uows: UnitOfWorkFactory) -> dict[str, int]:
    counts = {}
    async with uows() as uow:
        for name in (
            "postings",
            "entries",
            "priced_days",
            "payment_attempts",
            "settlement_days",
            "settlement_account_days",
            "settlement_exceptions",
            "settlement_adjustments",
        ):
            counts[name] = int(await uow.session.scalar(text(f"SELECT count(*) FROM {name}")) or 0)
    return counts


async def test_settling_twice_gives_the_same_digest_and_writes_nothing_new(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    first = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "r1")
    assert first.summary.control_ok
    assert first.summary.taps == 4
    assert first.summary.account_days == 2
    assert sum(first.summary.apportioned.values()) == first.summary.collected.amount > 0
    before = await row_counts(uow_factory)
    again = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "r2")
    assert again.already_settled
    assert again.summary.digest == first.summary.digest
    assert await row_counts(uow_factory) == before
    assert (tmp_path / "r1" / "report.html").read_text().count("<svg") >= 3
    listed = await list_days(uow_factory)  # from DAY to today (rideless days: not settled)
    assert (listed[0].day, listed[0].state, listed[0].digest) == (
        DAY,
        "settled",
        first.summary.digest,
    )
    assert all(d.state == "open" for d in listed[1:])


async def test_a_day_is_refused_before_its_cut_off(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    early = UnitOfWorkFactory(uow_factory.engine, clock=lambda: cut_off(DAY).replace(hour=3))
    with pytest.raises(DayNotClosed, match="cut-off"):
        await settle(early, feed, DAY, who=ADMIN, report_dir=tmp_path)
    on_time = UnitOfWorkFactory(uow_factory.engine, clock=lambda: cut_off(DAY))
    outcome = await settle(on_time, feed, DAY, who=ADMIN, report_dir=tmp_path)
    assert outcome.summary.control_ok


async def test_a_second_settlement_of_the_day_refuses_while_one_runs(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    async with settlement_lock(uow_factory.engine, DAY):
        with pytest.raises(SettlementInProgress):
            await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
        async with uow_factory() as uow:
            assert await uow.settlement.day(DAY) is None  # the refused run did nothing
    done = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    assert done.summary.control_ok


async def test_two_settlements_started_at_once_one_runs_the_other_refuses(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    other = UnitOfWorkFactory(uow_factory.engine)  # as a second process would have its own
    results = await asyncio.gather(
        settle(uow_factory, feed, DAY, who=ADMIN_A, report_dir=tmp_path / "a"),
        settle(other, feed, DAY, who=ADMIN_B, report_dir=tmp_path / "b"),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, SettlementInProgress)]
    outcomes = [r for r in results if isinstance(r, SettlementOutcome)]
    settled = [r for r in outcomes if not r.already_settled]
    # Exactly one run settles; the other refuses, or (on a loaded machine, where the first
    # may finish before the second starts) finds the day already settled with its digest.
    assert len(settled) == 1, results
    assert len(refused) + len(outcomes) == 2, results
    assert all(r.summary.digest == settled[0].summary.digest for r in outcomes), results
    again = await settle(uow_factory, feed, DAY, who=ADMIN_B, report_dir=tmp_path / "c")
    assert again.already_settled
    assert again.summary.digest == settled[0].summary.digest


async def test_a_late_tap_is_an_adjustment_of_the_next_run_and_the_closed_day_keeps_its_digest(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    closed = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "d1")
    # alice's second ride of DAY reaches us after DAY settled
    await ingest_and_price(uow_factory, feed, ride(3, "alice", DAY, 18))
    listed = {d.day: d for d in await list_days(uow_factory)}
    assert listed[DAY].state == "adjustments waiting"
    await ingest_and_price(uow_factory, feed, ride(1, "carol", NEXT, 9))
    nxt = await settle(uow_factory, feed, NEXT, who=ADMIN, report_dir=tmp_path / "d2")
    assert nxt.summary.adjustments == 1
    assert nxt.summary.control_ok
    async with uow_factory() as uow:
        adjustment = (
            await uow.session.execute(
                select(
                    SettlementAdjustmentRow.original_day,
                    SettlementAdjustmentRow.settled_in,
                    SettlementAdjustmentRow.version,
                    SettlementAdjustmentRow.amount,
                )
            )
        ).one()
        latest = await uow.pricing.latest("alice", DAY)
    assert latest is not None
    assert tuple(adjustment)[:3] == (DAY, NEXT, latest.version)
    assert adjustment.amount > 0
    # the adjustment is apportioned in the later run, on top of NEXT's own fares
    assert sum(nxt.summary.apportioned.values()) == nxt.summary.collected.amount
    again = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "d1b")
    assert again.summary.digest == closed.summary.digest
    assert again.summary == closed.summary
    states = {d.day: d.state for d in await list_days(uow_factory)}
    assert (states[DAY], states[NEXT]) == ("settled", "settled")


def _killed_cli(*args: str, crash_after: str) -> subprocess.CompletedProcess[str]:
    """`faregate` as a real process, made to SIGKILL itself after a settlement stage."""
    return subprocess.run(
        [sys.executable, "-m", "faregate", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "FAREGATE_SETTLE_CRASH_AFTER": crash_after},
        timeout=300,
        check=False,
    )


def _cli(*args: str) -> Result:
    """`faregate` in this process (the settle command runs its own event loop)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


async def test_a_run_killed_between_stages_is_completed_by_the_next_with_nothing_twice(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, db_url: str, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    args = ("settle", DAY.isoformat(), "--data-dir", str(tmp_path), "--database-url", db_url)
    for stage in ("priced", "reconciled"):
        killed = _killed_cli(*args, "--json", crash_after=stage)
        assert killed.returncode == -9, killed.stderr
        async with uow_factory() as uow:
            record = await uow.settlement.day(DAY)
        assert record is not None
        assert record.stage == stage
        assert record.digest is None
    finished = await asyncio.to_thread(_cli, *args, "--json")
    assert finished.exit_code == 0, finished.output
    summary = json.loads(finished.stdout)
    assert summary["control_ok"]
    assert summary["account_days"] == 2
    async with uow_factory() as uow:
        pinned = await uow.session.scalar(select(func.count()).select_from(SettledAccountDayRow))
        versions = await uow.session.scalar(select(func.count()).select_from(PricedDayRow))
    assert pinned == 2
    assert versions == 2
    rerun = await asyncio.to_thread(_cli, *args, "--json")
    assert json.loads(rerun.stdout)["digest"] == summary["digest"]
    listed = await asyncio.to_thread(
        _cli, "settle", "--list", "--json", "--data-dir", str(tmp_path), "--database-url", db_url
    )
    rows = json.loads(listed.stdout)
    assert rows[:1] == [
        {
            "day": DAY.isoformat(),
            "state": "settled",
            "digest": summary["digest"],
            "error": None,
            "adjustments_waiting": 0,
        }
    ]
    assert set(summary) >= {
        "day",
        "taps",
        "account_days",
        "charges",
        "collected",
        "apportioned",
        "suspense",
        "exceptions",
        "adjustments",
        "control_ok",
        "report",
        "digest",
    }
    assert Path(summary["report"]).is_file()  # noqa: ASYNC240


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["settle", "2026-13-40"], "is not a service day"),
        (["settle", "yesterday"], "is not a service day"),
        (["settle"], "give the service DAY"),
        (["settle", "2026-11-24", "--data-dir", "{tmp}/nowhere"], "no data directory"),
        (["settle", "2026-11-24", "--data-dir", "{tmp}"], "no database"),
        (
            ["settle", "2026-11-24", "--database-url", "postgresql+asyncpg://u@127.0.0.1:1/x"],
            "",
        ),
        (["settle", "2099-01-01", "--database-url", "{db}"], "not in the settlement calendar"),
        (["settle", "1969-12-31", "--database-url", "{db}"], "not in the settlement calendar"),
        (["settle", "--list", "2026-11-24", "--database-url", "{db}"], "either DAY or --list"),
    ],
)
def test_bad_input_is_one_error_line(
    args: list[str],
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_unused")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:1")
    filled = [a.format(tmp=tmp_path, db=db) for a in args]
    # Through the console entry point: an exception that is not a user error escapes it.
    with pytest.raises(SystemExit) as exited:
        main(filled)
    assert exited.value.code != 0
    stderr = capsys.readouterr().err
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("Error:"), stderr
    assert message in lines[0]


async def test_an_unpriced_leg_is_an_exception_not_dropped(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    async with uow_factory() as uow:  # as issue 13 leaves a leg no fare product covers
        await uow.session.execute(
            text("UPDATE priced_legs SET fare_product_id = NULL WHERE account_id = 'carol'")
        )
        await uow.commit()
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    assert outcome.summary.exceptions == {"unpriced_leg": 1}
    assert outcome.summary.taps == 4
    async with uow_factory() as uow:
        kinds = (
            await uow.session.execute(
                text("SELECT kind, key FROM settlement_exceptions WHERE kind = 'unpriced_leg'")
            )
        ).all()
    assert [k for k, _ in kinds] == ["unpriced_leg"]
    assert "carol" in kinds[0][1]


async def test_parking_fees_are_single_fares_of_the_lot_operator(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    """Fees posted by parking (a whole fee; a hold captured plus the rest beyond it) are the
    lot operator's single fares on the day of the exit, one ride a session; a fee of the next
    day is not counted."""
    await city(uow_factory, feed)
    wallet = accounts.wallet("alice")
    async with uow_factory() as uow:
        await uow.ledger.post(
            postings.parking_fee(
                postings.parking_fee_id("s1"),
                operator_id="lots-co",
                payers=[(wallet, 20_000)],
                currency="VND",
                session_id="s1",
                lot_id="lot-a",
                at=at(DAY, 18, 0),
            )
        )
        hold_id = postings.parking_hold_id("s2")
        await uow.ledger.hold(
            hold_id,
            debit=wallet,
            credit=accounts.operator("lots-co"),
            amount=Money(15_000, "VND"),
            at=at(DAY, 9, 0),
        )
        await uow.ledger.capture_hold(hold_id, Money(15_000, "VND"), at=at(DAY, 19, 0))
        await uow.ledger.post(
            postings.parking_fee(
                postings.parking_fee_id("s2", "rest"),
                operator_id="lots-co",
                payers=[(accounts.receivable("alice"), 5_000)],
                currency="VND",
                session_id="s2",
                lot_id="lot-a",
                at=at(DAY, 19, 0),
            )
        )
        await uow.ledger.post(
            postings.parking_fee(
                postings.parking_fee_id("s3"),
                operator_id="lots-co",
                payers=[(wallet, 9_000)],
                currency="VND",
                session_id="s3",
                lot_id="lot-a",
                at=at(NEXT, 10, 0),
            )
        )
        await uow.commit()
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    summary = outcome.summary
    assert summary.control_ok, summary
    # s2's rest (5,000) is on alice's receivable and not charged (no gateway here): held as
    # uncollected, not apportioned, not counted as collected.
    assert summary.apportioned["lots-co"] == 35_000
    assert summary.exceptions["uncollected_parking"] == 1
    assert sum(summary.apportioned.values()) == summary.collected.amount
    async with uow_factory() as uow:
        record = await uow.settlement.day(DAY)
    assert record is not None
    assert record.figures is not None
    lots = next(s for s in record.figures["statements"] if s["operator"] == "lots-co")
    assert (lots["rides"], lots["gross"], lots["revenue"]) == (2, 40_000, 35_000)
    assert record.figures["apportioned_by_kind"]["single"]["lots-co"] == 35_000
    # By hour of the exit that posted them, beside the fares (07:00 and 08:00 rides): the
    # fees collected, the held 5,000 left out as the money control leaves it out.
    by_hour = record.figures["revenue_by_hour"]
    assert (by_hour["18"], by_hour["19"]) == (20_000, 15_000)
    assert sum(by_hour.values()) == summary.collected.amount


async def test_an_uncollected_day_is_apportioned_by_the_run_that_collects_it(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    """A postpaid day not charged is an exception of its own run and apportions nothing;
    once its charge is collected, the next run apportions it as an adjustment naming that
    day, split by that day's weights, and resolves the exception."""
    async with uow_factory() as uow:
        await uow.riders.open_account(
            RiderAccount("dan", "regular", PaymentMode.POSTPAID_CARD, "VND")
        )
        await uow.commit()
    await ingest_and_price(uow_factory, feed, ride(1, "dan", DAY, 9))
    first = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path / "a")
    assert first.summary.exceptions == {"uncollected": 1}
    assert first.summary.apportioned == {}
    assert first.summary.control_ok, first.summary
    async with uow_factory() as uow:
        weights = await uow.settlement_day.settled_weights("dan", DAY)
        owed = (await uow.settlement.open_exceptions())[0].amount
        uow.session.add(
            PaymentAttemptRow(
                id="att-dan",
                purpose=PaymentPurpose.DAILY_CHARGE,
                account_id="dan",
                service_day=DAY,
                charge_key=f"charge:dan:{DAY}",
                amount=owed,
                currency="VND",
                status=AttemptStatus.RECOVERED,
                created_at=at(NEXT, 10, 0),
                updated_at=at(NEXT, 10, 0),
            )
        )
        await uow.commit()
    assert owed > 0
    assert weights
    nxt = await settle(uow_factory, feed, NEXT, who=ADMIN, report_dir=tmp_path / "b")
    assert nxt.summary.control_ok, nxt.summary
    assert nxt.summary.adjustments == 1
    assert sum(nxt.summary.apportioned.values()) == owed
    assert set(nxt.summary.apportioned) == set(weights)
    async with uow_factory() as uow:
        record = await uow.settlement.day(NEXT)
        assert await uow.settlement.open_exceptions() == []
        resolved = await uow.settlement.resolved_on(ExceptionKind.UNCOLLECTED, NEXT)
    assert [e.key for e in resolved] == [f"uncollected:dan:{DAY}"]
    assert record is not None
    assert record.figures is not None
    assert record.figures["apportioned_by_kind"]["adjustment"] == nxt.summary.apportioned
    again = await settle(uow_factory, feed, NEXT, who=ADMIN, report_dir=tmp_path / "c")
    assert again.summary.digest == nxt.summary.digest


async def test_the_cli_settles_with_progress_bars_as_an_administrator(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, db_url: str, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    args = ("settle", DAY.isoformat(), "--data-dir", str(tmp_path), "--database-url", db_url)
    done = await asyncio.to_thread(_cli, *args)
    assert done.exit_code == 0, done.output
    assert f"{DAY}: settled" in done.stdout
    for stage in ("priced", "charged", "reconciled", "apportioned", "reported"):
        assert stage in done.stderr  # one bar a stage, on stderr: stdout stays the summary
    async with uow_factory() as uow:
        record = await uow.settlement.day(DAY)
        page = await uow.audit.page(AuditQuery(action=AuditAction.SETTLEMENT_STARTED))
    assert record is not None
    login = administrator().name
    assert (record.prepared_by, record.approved_by) == (login, login)
    assert [(e.actor.name, e.actor.role) for e in page.entries] == [
        (login, ActorRole.ADMINISTRATOR)
    ]


async def test_faregate_worker_runs_the_settlement_jobs_finance_left(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, db_url: str, tmp_path: Path
) -> None:
    await city(uow_factory, feed)
    asked = await request_prepare(uow_factory, DAY, Actor("fin-lan", ActorRole.FINANCE))
    assert asked.state is RunState.PREPARING
    args = ("--data-dir", str(tmp_path), "--database-url", db_url, "worker", "--once")
    # a process of its own: the worker sets its signal handlers in its main thread
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "faregate", *args, "--settlements"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 settlement jobs run" in done.stdout
    prepared = await run_of(uow_factory, DAY)
    assert prepared.state is RunState.PREPARED
    assert prepared.review is not None
    assert prepared.review.account_days == 2
