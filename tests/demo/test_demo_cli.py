"""`faregate demo` runs the whole simulated day over the wire, as a user starts it: the backend
is its own process, devices and phones reach it over HTTP, finance settles through its API.
What `--json` reports conserves taps and money, is what the backend's database holds, and
`faregate settle` finds the settled day again afterwards. A day costs about 25 s of CPU however
few its riders (82 devices enrol, the backend starts three times, three days settle), so the
checks share as few days as they can."""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from faregate.config import Settings
from faregate.demo.cluster import schema_of
from faregate.demo.settle_stage import APPROVER, PREPARER
from qr.decode import decode_image
from qr.token import parse_token
from tests.helpers.databases import drop_schema
from ticketing.db.engine import create_engine
from ticketing.ledger import accounts
from ticketing.riders import PaymentMode
from ticketing.services.figures import day_figures
from ticketing.unit_of_work import UnitOfWorkFactory

FIELDS = {
    "seed", "day", "data_dir", "taps_made", "taps_ingested", "taps_priced", "taps_quarantined",
    "sessions", "charged", "ledger_collected", "apportioned_total", "suspense", "refusals",
    "faults", "conservation_ok", "report",
}  # fmt: skip


def faregate(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "faregate", *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "120"},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def run_demo(
    data_dir: Path, passengers: int, seed: int = 2026, faults: str = "all", *options: str
) -> tuple[dict[str, Any], str]:
    """The day's `--json` figures and the story it printed."""
    done = faregate(
        "demo", "--passengers", str(passengers), "--seed", str(seed), "--data-dir",
        str(data_dir), "--json", "--faults", faults, *options,
    )  # fmt: skip
    assert "FAIL" not in done.stderr, done.stderr[-3000:]
    figures: dict[str, Any] = json.loads(done.stdout)
    return figures, done.stderr


def check_conservation(figures: dict[str, Any]) -> None:
    assert set(figures) == FIELDS
    assert figures["conservation_ok"] is True
    assert figures["taps_made"] > 0
    assert (
        figures["taps_made"]
        == figures["taps_ingested"]
        == figures["taps_priced"] + figures["taps_quarantined"]
    )
    assert figures["charged"] == figures["ledger_collected"] > 0
    assert all(reason and count > 0 for reason, count in figures["refusals"].items())
    # Every device fault is on by default, reduced, and struck.
    struck = (
        "backend_restart", "gate_offline", "gate_killed", "batch_cut", "batch_twice",
        "station_redis_down", "unknown_credential",
    )  # fmt: skip
    assert all(figures["faults"][kind] >= 1 for kind in struck), figures["faults"]
    assert figures["taps_quarantined"] >= 1  # the credential never issued
    assert figures["sessions"] > 0
    assert Path(figures["report"]).is_file()


def check_late_taps_and_shared_screenshots(data_dir: Path, story: str) -> None:
    """Taps that arrive after their day settled are settled with the next day's run, as
    adjustments. A rider's code shared as a screenshot inside one station is a real PNG read
    back by each gate's camera, refused at the second gate while the station's Redis is up and
    flagged by settlement when the station was cut off from it."""
    assert "late_taps: gate-" in story
    assert "adjustments of earlier days (late taps)" in story
    shots = sorted((data_dir / "screenshots").glob("*.png"))
    assert len(shots) == 2
    assert all(parse_token(decode_image(shot)) is not None for shot in shots)
    assert "PASS shared screenshot refused at the station's second gate" in story
    assert "PASS screenshot shared while the station was cut off: flagged" in story


@pytest.mark.slow
@pytest.mark.timeout(1800)  # hundreds of riders on a loaded machine: over the default 300 s
def test_a_reduced_day_of_hundreds_conserves_taps_and_money(tmp_path: Path) -> None:
    """Hundreds of riders with every fault on in its reduced form: at this size the default
    doses strike the gateway's 500s, timeouts and declines too; taps arrive after their day
    settled, and a screenshot is shared inside the station whose Redis goes down."""
    data_dir = tmp_path / "city"
    figures, story = run_demo(data_dir, 200, seed=7)
    check_conservation(figures)
    assert figures["faults"]["late_taps"] >= 1
    check_late_taps_and_shared_screenshots(data_dir, story)
    assert figures["faults"]["gateway_500"] >= 1
    assert figures["faults"]["gateway_timeout"] >= 1
    assert figures["faults"]["card_declined"] >= 1
    assert figures["data_dir"] == str(data_dir.resolve())
    # The devices' journals and the backend's state are all in the data directory.
    assert (data_dir / "faregate.db").is_file()
    assert list((data_dir / "devices").glob("*.sqlite"))
    assert (data_dir / "serve.log").is_file()
    asyncio.run(check_database(data_dir / "faregate.db", figures, riders=200))
    # Afterwards `faregate settle` finds everything: the settled day, the same digest.
    again = json.loads(faregate("settle", figures["day"], "--data-dir", str(data_dir),
                                "--json").stdout)  # fmt: skip
    stored = json.loads((data_dir / "settlement" / figures["day"] / "settlement.json").read_text())
    assert again["digest"] == stored["digest"]


async def check_database(database: Path, figures: dict[str, Any], *, riders: int) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        uows = UnitOfWorkFactory(engine)
        held = await day_figures(uows)
        assert held.ledger.ok, held.ledger
        assert held.taps_stored == figures["taps_ingested"] - figures["taps_quarantined"]
        assert held.taps_priced == figures["taps_priced"]
        async with uows() as uow:
            held_riders = [
                *await uow.riders.accounts_with_mode(PaymentMode.POSTPAID_CARD),
                *await uow.riders.accounts_with_mode(PaymentMode.PREPAID_WALLET),
            ]
            assert len(held_riders) == riders
            clearing = await uow.ledger.balance(accounts.gateway_clearing("stripe"))
            assert clearing.amount == figures["ledger_collected"]
            # The phone reported lost at noon (through the passenger API) is denied.
            denied = (await uow.deny_list.snapshot()).ids
            credentials = [c for r in held_riders for c in await uow.riders.credentials_for(r.id)]
            revoked = [c.credential_id for c in credentials if c.revoked_at is not None]
            assert len(revoked) == 1
            assert set(revoked) <= denied
            settled = [d for d in await uow.settlement.days() if d.settled]
            # The day before (the wallets' carried balances), the city day and the parking
            # days after it: no day of the calendar is left unsettled.
            city_day = date.fromisoformat(figures["day"])
            assert [d.day for d in settled] == [city_day + timedelta(days=n) for n in range(-1, 3)]
            assert {(d.prepared_by, d.approved_by) for d in settled} == {(PREPARER, APPROVER)}
    finally:
        await engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(1800)  # two small days on a loaded machine
def test_the_same_seed_gives_the_same_figures(tmp_path: Path) -> None:
    """Twelve riders and six vehicles make a few payments: the gateway's faults are dosed to
    strike among them, so the seed must decide those strikes as well as the devices' faults.
    Days this small cost about 11 s of CPU each, against 19 s at forty riders and the default
    24 vehicles; fewer than six vehicles leave the parking day without its permit."""
    spec = "all,gateway_500=0.2,gateway_timeout=0.04"
    first, _ = run_demo(tmp_path / "one", 12, 2026, spec, "--vehicles", "6")
    second, _ = run_demo(tmp_path / "two", 12, 2026, spec, "--vehicles", "6")
    check_conservation(first)
    assert first["faults"]["gateway_500"] >= 1
    assert first["faults"]["gateway_timeout"] >= 1
    ignore = {"data_dir", "report"}
    assert {k: v for k, v in first.items() if k not in ignore} == {
        k: v for k, v in second.items() if k not in ignore
    }


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.timeout(1800)  # a loaded machine
@pytest.mark.parametrize("db_backend", ["postgresql"])
def test_two_servers_and_a_worker_conserve_taps_and_money(
    empty_db_url: str, tmp_path: Path
) -> None:
    """`--servers 2` on PostgreSQL: two `faregate serve` processes and a `faregate worker` on
    the demo run's own schema, sharing one Redis and one gateway, the demo's requests going to
    each server in turn and the mid-day restart restarting one of them. A handful of riders
    keeps it cheap (about 25 s of CPU): its cost is mostly its processes (five server starts,
    two worker starts), not its riders."""
    data_dir = tmp_path / "city"
    server = make_url(empty_db_url).difference_update_query(["search_path"])
    try:
        done = faregate(
            "demo", "--passengers", "8", "--vehicles", "6", "--seed", "7", "--data-dir",
            str(data_dir), "--database-url", empty_db_url, "--servers", "2", "--faults",
            "all,gateway_500=0.3,gateway_timeout=0.3,card_declined=0.3", "--json",
        )  # fmt: skip
        assert "FAIL" not in done.stderr, done.stderr[-3000:]
        figures: dict[str, Any] = json.loads(done.stdout)
        answered = figures.pop("servers")
        check_conservation(figures)
        # Eight riders' few payments meet the gateway's faults at these doses, and this seed
        # gives them a late tap: every kind strikes, with retries going to either server.
        assert min(figures["faults"].values()) >= 1, figures["faults"]
        # Both servers took the demo's traffic (requests go to each in turn), and the worker
        # priced what the uploads queued (the servers price nothing themselves).
        assert len(answered) == 2
        assert min(answered.values()) > 0, answered
        assert re.search(r"priced [1-9]\d* new", (data_dir / "worker.log").read_text())
        # The command the demo prints finds the settled day on its schema: the same digest.
        printed = re.search(r"settle it again: (faregate settle .*)", done.stderr)
        assert printed is not None
        command = shlex.split(printed.group(1))
        assert f"search_path={schema_of(Settings(data_dir.resolve()))}" in command[-1]
        again = json.loads(faregate(*command[1:], "--json").stdout)
        stored = data_dir / "settlement" / figures["day"] / "settlement.json"
        assert again["digest"] == json.loads(stored.read_text())["digest"]
    finally:
        drop_schema(
            server.render_as_string(hide_password=False), schema_of(Settings(data_dir.resolve()))
        )
