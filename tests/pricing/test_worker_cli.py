"""`faregate worker`: as a real process stopped by SIGTERM, with --once, and bad options."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from asyncio.subprocess import PIPE
from pathlib import Path

from click.testing import CliRunner

from faregate.cli import cli
from tests.helpers.pricing import DAYS, add_riders, priced_versions, ride
from tests.helpers.waiting import until
from ticketing.fares.feed import FareFeed
from ticketing.services.taps import ingest_taps
from ticketing.unit_of_work import UnitOfWorkFactory

FAREGATE = [sys.executable, "-c", "from faregate.cli import main; main()"]


async def test_a_worker_process_prices_uploads_and_stops_on_sigterm(
    db_url: str, uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    [rider] = await add_riders(uow_factory, 1)
    env = {**os.environ, "FAREGATE_DATA_DIR": str(tmp_path), "DATABASE_URL": db_url}
    process = await asyncio.create_subprocess_exec(
        *FAREGATE, "worker", "--poll", "0.1", env=env, stdout=PIPE, stderr=PIPE
    )
    try:
        await ingest_taps(uow_factory, ride(rider, DAYS[0]), feed=feed)
        await until(lambda: priced_versions(uow_factory), "the worker process prices the ride")
        process.send_signal(signal.SIGTERM)
        raw_out, raw_err = await asyncio.wait_for(process.communicate(), timeout=30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    out, err = raw_out.decode(), raw_err.decode()
    assert process.returncode == 0, err
    assert out.startswith("priced 1 new and 0 changed account-days"), out
    assert dict(await priced_versions(uow_factory)) == {(rider, DAYS[0]): 1}


def test_once_on_an_empty_queue_prints_what_it_did(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--data-dir", str(tmp_path), "worker", "--once"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "priced 0 new and 0 changed account-days" in result.output


def test_bad_options_are_one_error_line(tmp_path: Path) -> None:
    for args in (["--batch", "0"], ["--poll", "-1"], ["--fare-feed", str(tmp_path / "none")]):
        result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "worker", *args])
        assert result.exit_code == 2, (args, result.output)
        assert "Error:" in result.output
        assert "Traceback" not in result.output
