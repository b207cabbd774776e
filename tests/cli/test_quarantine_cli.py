"""`faregate quarantine list / resolve`: a day's quarantined taps at the command line, resolved
by an administrator; bad input is one `Error:` line (or click's usage error) and a non-zero
exit."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from faregate.cli import main
from faregate.config import Settings
from faregate.database import open_database
from faregate_data import HANOI_FEED
from tests.helpers.devices import gate, register
from ticketing.fares.feed import load_feed
from ticketing.journal import DeviceTap
from ticketing.service_day import service_day
from ticketing.services.journal import feed_places, ingest_journal
from ticketing.taps import TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

AT = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(args)
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


async def _a_quarantined_tap(data: Path) -> None:
    engine = await open_database(Settings(data_dir=data))
    try:
        uows = UnitOfWorkFactory(engine)
        await register(uows, "gate-q", gate())
        feed = load_feed(HANOI_FEED)
        tap = DeviceTap("gate-q", 1, 424242, AT, "m2a", "m2a_01", TapKind.ENTRY)
        await ingest_journal(uows, "gate-q", [tap], feed=feed, places=feed_places(feed))
    finally:
        await engine.dispose()


def test_list_and_resolve(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path / "var")]
    code, _, err = run([*data, "db", "upgrade"], capsys)
    assert code == 0, err
    asyncio.run(_a_quarantined_tap(tmp_path / "var"))
    day = service_day(AT).isoformat()
    code, out, err = run([*data, "quarantine", "list", "--day", day, "--json"], capsys)
    assert code == 0, err
    [tap] = json.loads(out)
    assert (tap["credential_id"], tap["reason"], tap["status"]) == (
        "424242", "unknown-credential", "open",
    )  # fmt: skip
    resolve = [*data, "quarantine", "resolve", str(tap["id"])]
    code, out, err = run([*resolve, "--write-off", "--reason", "test card"], capsys)
    assert code == 0, err
    assert "written off" in out
    bad = [
        ([*resolve, "--write-off", "--reason", "again"], "written off by"),
        ([*data, "quarantine", "resolve", "999", "--write-off", "--reason", "x"], "no quarantined"),
        ([*resolve, "--reason", "x"], "either --account"),
        ([*resolve, "--account", "a", "--write-off", "--reason", "x"], "either --account"),
        ([*data, "quarantine", "list", "--day", "yesterday"], "Invalid value"),
        ([*data, "quarantine", "resolve", "0", "--write-off", "--reason", "x"], "Invalid value"),
    ]
    for args, message in bad:
        code, _, err = run(args, capsys)
        assert code != 0, args
        assert message in err, (args, err)
        assert "Traceback" not in err
