"""The staff actions that exist today are in the audit log, each committed with its action:
sign-in and sign-out of staff (not of passengers), a user added, a user signed out everywhere."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from faregate.cli import main
from faregate.config import Settings
from faregate.database import open_database
from faregate_data import HANOI_FEED
from tests.wallets import top_up
from ticketing.audit import Actor, ActorRole, AuditAction, AuditEntry, AuditQuery, TargetKind
from ticketing.errors import BadCredentials, UserExists
from ticketing.fares.feed import load_feed
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.audit import read_audit
from ticketing.services.settlement import settle
from ticketing.services.users import (
    ScryptCost,
    create_user,
    revoke_all_tokens,
    revoke_token,
    sign_in,
)
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import UserRole

PASSWORD = "a long enough password"
CHEAP = ScryptCost(n=2**8)
ROOT = Actor.administrator("root")
NOW = datetime(2026, 12, 2, 8, 30, tzinfo=UTC)


@pytest.fixture
def uows(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(uow_factory.engine, lambda: NOW)


async def lines(uows: UnitOfWorkFactory, **filters: object) -> list[AuditEntry]:
    page = await read_audit(uows, AuditQuery(**filters))  # type: ignore[arg-type]
    return list(page.entries)


async def test_a_user_added_by_an_administrator(uows: UnitOfWorkFactory) -> None:
    await create_user(uows, "alice", PASSWORD, UserRole.FINANCE, cost=CHEAP, by=ROOT)
    (line,) = await lines(uows)
    assert (line.actor, line.action) == (ROOT, AuditAction.USER_ADDED)
    assert (line.target.kind, line.target.id) == (TargetKind.USER, "alice")
    assert line.after == {"role": "finance"}
    assert line.at == NOW
    assert "password" not in str(line.after)


async def test_a_refused_user_leaves_no_line(uows: UnitOfWorkFactory) -> None:
    await create_user(uows, "alice", PASSWORD, UserRole.FINANCE, cost=CHEAP, by=ROOT)
    with pytest.raises(UserExists):
        await create_user(uows, "alice", PASSWORD, UserRole.OPERATOR, cost=CHEAP, by=ROOT)
    assert len(await lines(uows)) == 1


async def test_staff_sign_in_and_out_are_recorded(uows: UnitOfWorkFactory) -> None:
    await create_user(uows, "ops", PASSWORD, UserRole.OPERATOR, cost=CHEAP)
    session = await sign_in(uows, "ops", PASSWORD)
    assert await revoke_token(uows, session.token)
    assert not await revoke_token(uows, session.token)  # already out: no second line
    out, signed_in = await lines(uows, actor="ops")
    assert signed_in.action is AuditAction.SIGN_IN
    assert signed_in.actor == Actor("ops", ActorRole.OPERATOR)
    assert signed_in.after == {"expires_at": session.expires_at.isoformat()}
    assert out.action is AuditAction.SIGN_OUT
    assert out.target.id == "ops"
    assert session.token not in repr(signed_in)


async def test_a_wrong_password_records_nothing(uows: UnitOfWorkFactory) -> None:
    await create_user(uows, "fin", PASSWORD, UserRole.FINANCE, cost=CHEAP)
    with pytest.raises(BadCredentials):
        await sign_in(uows, "fin", "not the password")
    assert await lines(uows) == []


async def test_a_passengers_sessions_are_not_staff_actions(uows: UnitOfWorkFactory) -> None:
    await create_user(uows, "rider", PASSWORD, UserRole.PASSENGER, account_id="acct-1", cost=CHEAP)
    session = await sign_in(uows, "rider", PASSWORD)
    await revoke_token(uows, session.token)
    await revoke_all_tokens(uows, "rider")
    assert await lines(uows) == []


async def test_signed_out_everywhere_by_an_administrator(uows: UnitOfWorkFactory) -> None:
    await create_user(uows, "fin", PASSWORD, UserRole.FINANCE, cost=CHEAP)
    await sign_in(uows, "fin", PASSWORD)
    await sign_in(uows, "fin", PASSWORD)
    assert await revoke_all_tokens(uows, "fin", by=ROOT) == 2
    (line,) = await lines(uows, actor="root")
    assert line.action is AuditAction.SIGN_OUT
    assert line.target.id == "fin"
    assert line.after == {"tokens_revoked": 2}
    assert line.reason == "signed out everywhere"


def test_faregate_users_add_is_recorded_as_the_administrators(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "ops-admin")  # getpass reads the login from here first
    data = tmp_path / "var"
    secret = tmp_path / "pw"
    secret.write_text(PASSWORD + "\n")
    with pytest.raises(SystemExit) as exited:
        main(["--data-dir", str(data), "users", "add", "carol", "--role", "operator",
              "--password-file", str(secret)])  # fmt: skip
    assert exited.value.code == 0
    with pytest.raises(SystemExit):
        main(["--data-dir", str(data), "users", "sign-out", "carol"])
    capsys.readouterr()

    async def read() -> list[AuditEntry]:
        engine = await open_database(Settings(data_dir=data))
        try:
            return await lines(UnitOfWorkFactory(engine))
        finally:
            await engine.dispose()

    out, added = asyncio.run(read())
    assert (added.action, added.actor, added.target.id) == (
        AuditAction.USER_ADDED, Actor.administrator("ops-admin"), "carol",
    )  # fmt: skip
    assert added.after == {"role": "operator"}
    assert (out.action, out.actor.name, out.after) == (
        AuditAction.SIGN_OUT, "ops-admin", {"tokens_revoked": 0},
    )  # fmt: skip


async def test_a_settlement_started_is_recorded_once_per_run(
    uow_factory: UnitOfWorkFactory, tmp_path: Path
) -> None:
    """A run that starts (or resumes) a day is in the log; a dry run and a rerun of a settled
    day change nothing and are not."""
    feed = load_feed(HANOI_FEED)
    day = date(2026, 11, 24)
    fin = Actor("fin", ActorRole.FINANCE)
    async with uow_factory() as uow:  # the day's activity: a top-up
        await uow.riders.open_account(
            RiderAccount("alice", "regular", PaymentMode.PREPAID_WALLET, "VND")
        )
        await top_up(uow, "alice", 50_000, at=datetime(2026, 11, 24, 5, tzinfo=UTC))
        await uow.commit()
    await settle(uow_factory, feed, day, who=ROOT, report_dir=tmp_path / "dry", dry_run=True)
    assert await lines(uow_factory) == []

    class Stop(Exception):
        pass

    def crash_after_close(stage: str) -> None:
        if stage == "closed":
            raise Stop

    with pytest.raises(Stop):
        await settle(
            uow_factory, feed, day, who=ROOT, report_dir=tmp_path / "a",
            after_stage=crash_after_close,
        )  # fmt: skip
    await settle(uow_factory, feed, day, who=fin, report_dir=tmp_path / "b")
    await settle(uow_factory, feed, day, who=fin, report_dir=tmp_path / "c")  # settled: no-op
    resumed, started = await lines(uow_factory, action=AuditAction.SETTLEMENT_STARTED)
    assert (started.actor, started.target.kind, started.target.id) == (
        ROOT, TargetKind.SERVICE_DAY, "2026-11-24",
    )  # fmt: skip
    assert started.after is None
    assert resumed.actor == fin
    assert resumed.after == {"resumed_after": "closed"}
