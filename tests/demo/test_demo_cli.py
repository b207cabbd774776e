"""`faregate demo` runs the whole simulated day end to end, as a user starts it, and what it
reports is what its database holds."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest

from faregate.demo.settle_stage import APPROVER, PREPARER
from ticketing.db.engine import create_engine
from ticketing.ledger import accounts
from ticketing.payments.model import AttemptStatus
from ticketing.riders import PaymentMode
from ticketing.services.figures import day_figures
from ticketing.unit_of_work import UnitOfWorkFactory

CHECKS = (
    "PASS credential decisions as expected",
    "PASS taps accepted = ingested = priced",
    "PASS ledger balanced after the city day",
    "PASS parking: offline barrier's journal applied exactly once",
    "PASS parking: occupancy (Redis) = open sessions in every lot",
    "PASS parking: unable-to-collect cases became debt",
    "PASS parking: a receipt for every paid session",
    "PASS parking: a permit sold, and the inspector finds it and a stay",
    "PASS ledger balanced after parking",
    "PASS ledger clearing = gateway collected",
    "PASS declined card: denied, then cleared by retry",
    "PASS ledger balanced at the end of the day",
)


def run_demo(data_dir: Path, riders: int) -> str:
    command = ["faregate", "--data-dir", str(data_dir), "demo", "--riders", str(riders)]
    done = subprocess.run(
        [sys.executable, "-m", *command],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def figure(stdout: str, label: str, pattern: str) -> tuple[int, ...]:
    found = re.search(re.escape(label) + r"\s*│\s*" + pattern, stdout)
    assert found is not None, f"{label!r} not in the demo's output"
    return tuple(int(group.replace(",", "")) for group in found.groups())


@pytest.mark.parametrize("riders", [2, 40])
def test_demo_passes_its_checks_and_its_figures_are_the_databases(
    tmp_path: Path, riders: int
) -> None:
    stdout = run_demo(tmp_path, riders)
    assert "FAIL" not in stdout
    for check in CHECKS:
        assert check in stdout
    database = tmp_path / "demo" / "faregate.db"
    assert database.exists()
    stored, priced = figure(stdout, "taps stored / priced", r"(\d+) / (\d+)")
    ingested, _ = figure(stdout, "taps ingested (duplicates ignored)", r"(\d+) \((\d+)\)")
    clearing, collected = figure(stdout, "clearing = gateway", r"([\d,]+) = ([\d,]+) VND")
    asyncio.run(
        check_database(
            f"sqlite+aiosqlite:///{database}", riders, stored, priced, ingested, clearing
        )
    )
    assert clearing == collected
    # every day settled through four eyes, and where its report and exports are
    assert f"prepared by {PREPARER}" in stdout
    assert f"approved by {APPROVER}" in stdout
    for export in ("statements.xlsx", "journal.csv", "payouts.xml"):
        assert export in stdout


async def check_database(
    url: str, riders: int, stored: int, priced: int, ingested: int, clearing: int
) -> None:
    engine = create_engine(url)
    try:
        uow_factory = UnitOfWorkFactory(engine)
        figures = await day_figures(uow_factory)
        assert figures.ledger.ok, figures.ledger
        assert (figures.taps_stored, figures.taps_priced) == (stored, priced) == (ingested, priced)
        async with uow_factory() as uow:
            riders_held = [
                *await uow.riders.accounts_with_mode(PaymentMode.POSTPAID_CARD),
                *await uow.riders.accounts_with_mode(PaymentMode.PREPAID_WALLET),
            ]
            assert len(riders_held) == riders
            owed = await uow.ledger.accounts(accounts.receivable(r.id) for r in riders_held)
            # Every day owed was charged, the declined one by its retry.
            assert all(state.balance == 0 for state in owed.values()), (
                {c: s.balance for c, s in owed.items() if s.balance},
                [(a.id, a.status, a.amount.amount) for a in await uow.payments.attempts()],
            )
            attempts = await uow.payments.attempts()
            assert any(a.status is AttemptStatus.RECOVERED for a in attempts)
            paid = sum(a.amount.amount for a in attempts if a.status is AttemptStatus.SUCCEEDED)
            refunded = 0
            for attempt in attempts:
                refunded += await uow.payments.refunded(attempt.id)
            assert refunded > 0  # the demo's partial refund
            balance = await uow.ledger.balance(accounts.gateway_clearing("stripe"))
            assert balance.amount == clearing == paid - refunded
            # The phone reported lost at noon is on the list the gates synced.
            denied = (await uow.deny_list.snapshot()).ids
            lost = [c for r in riders_held for c in await uow.riders.credentials_for(r.id)]
            revoked = [c.credential_id for c in lost if c.revoked_at is not None]
            assert len(revoked) == 1
            assert set(revoked) <= denied
            settled = [d for d in await uow.settlement.days() if d.settled]
            assert len(settled) == 3  # the city day and the parking days after it
            assert {(d.prepared_by, d.approved_by) for d in settled} == {(PREPARER, APPROVER)}
    finally:
        await engine.dispose()
