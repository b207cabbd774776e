"""`faregate db upgrade` and `faregate ledger check` through click and as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import text

from faregate.cli import cli
from faregate.database import alembic_config
from ticketing.db.engine import create_engine
from ticketing.ledger import Posting, accounts
from ticketing.money import Money
from ticketing.unit_of_work import UnitOfWorkFactory

FAREGATE = [sys.executable, "-c", "from faregate.cli import main; main()"]


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.output


async def _post_then(url: str, sql: str | None) -> None:
    engine = create_engine(url)
    try:
        async with UnitOfWorkFactory(engine)() as uow:
            await uow.ledger.post(
                Posting.transfer(
                    "topup:1",
                    debit=accounts.gateway_clearing("stripe"),
                    credit=accounts.wallet("a1"),
                    amount=Money(50_000, "VND"),
                    occurred_at=datetime(2025, 3, 1, tzinfo=UTC),
                )
            )
            if sql:
                await uow.session.execute(text(sql))
            await uow.commit()
    finally:
        await engine.dispose()


def test_upgrade_then_check_on_a_fresh_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh" / "var"
    code, output = invoke("--data-dir", str(data_dir), "ledger", "check")
    assert code == 1
    assert "faregate db upgrade" in output
    assert invoke("--data-dir", str(data_dir), "db", "upgrade")[0] == 0
    assert (data_dir / "faregate.db").exists()
    assert invoke("--data-dir", str(data_dir), "db", "upgrade")[0] == 0  # idempotent
    code, output = invoke("--data-dir", str(data_dir), "ledger", "check", "--json")
    report = json.loads(output)
    assert code == 0
    assert report["ok"] is True
    assert report["trial_balance"] == {}
    assert {c["name"] for c in report["checks"]} >= {"trial_balance_zero", "postings_balanced"}
    code, output = invoke("--data-dir", str(data_dir), "ledger", "check")
    assert (code, output.splitlines()[-1]) == (0, "ledger OK")


def test_check_reports_balances_and_fails_on_a_broken_invariant(db_url: str) -> None:
    asyncio.run(_post_then(db_url, None))
    code, output = invoke("--database-url", db_url, "ledger", "check", "--json")
    assert code == 0, output
    assert json.loads(output)["trial_balance"] == {
        "VND": {"debits": 50_000, "credits": 50_000, "net": 0}
    }
    # Balances are the one ledger column PostgreSQL lets a stray UPDATE touch.
    engine = create_engine(db_url)

    async def corrupt() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE ledger_accounts SET balance = balance + 1"))
        await engine.dispose()

    asyncio.run(corrupt())
    code, output = invoke("--database-url", db_url, "ledger", "check", "--json")
    report = json.loads(output)
    assert code == 1
    assert report["ok"] is False
    failed = [c["name"] for c in report["checks"] if not c["ok"]]
    assert failed == ["account_balances_match_entries"]
    code, output = invoke("--database-url", db_url, "ledger", "check")
    assert code == 1
    assert "account_balances_match_entries: FAIL" in output


def test_real_process_upgrade_and_check(tmp_path: Path) -> None:
    env = {**os.environ, "FAREGATE_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    upgrade = subprocess.run(
        [*FAREGATE, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stderr
    check = subprocess.run(
        [*FAREGATE, "ledger", "check", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["ok"] is True
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'faregate.db'}"
    asyncio.run(
        _post_then(
            url,
            "INSERT INTO entries (posting_id, account_code, amount, currency)"
            " VALUES ('topup:1', 'wallet:a1', 7, 'VND')",
        )
    )
    broken = subprocess.run(
        [*FAREGATE, "ledger", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert broken.returncode == 1
    assert "trial_balance_zero: FAIL" in broken.stdout
    assert "Traceback" not in broken.stderr


def test_check_names_a_missing_sqlite_file_given_by_url(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "faregate.db"
    code, output = invoke("--database-url", f"sqlite+aiosqlite:///{missing}", "ledger", "check")
    assert code == 1
    assert f"no database at {missing}" in output
    assert not missing.parent.exists()


def test_migrations_refuse_to_run_without_a_connection(tmp_path: Path) -> None:
    # Plain Alembic (no connection handed over) must point at the supported command.
    config = alembic_config(f"sqlite+aiosqlite:///{tmp_path / 'faregate.db'}")
    with pytest.raises(SystemExit, match="faregate db upgrade"):
        command.upgrade(config, "head")
    assert not (tmp_path / "faregate.db").exists()
