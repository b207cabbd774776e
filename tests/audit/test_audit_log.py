"""The audit log on SQLite and PostgreSQL: append and read only, filters, keyset pages newest
first, lines that commit with their action, and a database that refuses to rewrite them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from faregate.database import downgrade, upgrade
from ticketing.audit import (
    Actor,
    ActorRole,
    AuditAction,
    AuditEntry,
    AuditQuery,
    Target,
    TargetKind,
)
from ticketing.db.engine import create_engine
from ticketing.errors import InvalidAuditEntry, InvalidAuditQuery, NaiveTime
from ticketing.services.audit import read_audit, record
from ticketing.stores.audit import AuditLog
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow
from ticketing.users import UserRole

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALICE = Actor("alice", ActorRole.FINANCE)
BOB = Actor("bob", ActorRole.OPERATOR)
ROOT = Actor.administrator("root")


class StepClock:
    """A clock that moves one minute a reading, so every line has its own time."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def clocked(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(uow_factory.engine, StepClock())


Line = tuple[Actor, AuditAction, Target]


async def _record_many(uows: UnitOfWorkFactory, lines: list[Line]) -> None:
    for actor, action, target in lines:
        async with uows() as uow:
            await record(uow, actor, action, target, after={"n": 1})
            await uow.commit()


async def test_a_line_reads_back_as_recorded(clocked: UnitOfWorkFactory) -> None:
    async with clocked() as uow:
        stored = await record(
            uow,
            ALICE,
            AuditAction.USER_ADDED,
            Target(TargetKind.USER, "nguyễn.văn.a"),
            before=None,
            after={"role": "finance", "nested": {"list": [1, "hai", None]}},
            reason="new finance clerk, ticket 42",
        )
        await uow.commit()
    page = await read_audit(clocked, AuditQuery())
    assert page.entries == (stored,)
    assert page.next is None
    (line,) = page.entries
    assert line.id is not None
    assert line.at == T0 + timedelta(minutes=1)
    assert line.at.tzinfo is UTC
    assert line.actor == ALICE
    assert line.target == Target(TargetKind.USER, "nguyễn.văn.a")
    assert line.after == {"role": "finance", "nested": {"list": [1, "hai", None]}}
    assert line.before is None
    assert line.reason == "new finance clerk, ticket 42"


async def test_a_line_commits_with_its_action_or_not_at_all(clocked: UnitOfWorkFactory) -> None:
    async with clocked() as uow:
        await record(uow, ALICE, AuditAction.SIGN_IN, Target(TargetKind.USER, "alice"))
        # no commit: the action failed, and its audit line goes with it
    assert (await read_audit(clocked, AuditQuery())).entries == ()


async def test_filters_combine(clocked: UnitOfWorkFactory) -> None:
    day = Target(TargetKind.SERVICE_DAY, "2026-11-30")
    await _record_many(
        clocked,
        [
            (ALICE, AuditAction.SIGN_IN, Target(TargetKind.USER, "alice")),  # T0+1
            (BOB, AuditAction.SIGN_IN, Target(TargetKind.USER, "bob")),  # T0+2
            (ALICE, AuditAction.SETTLEMENT_STARTED, day),  # T0+3
            (ROOT, AuditAction.USER_ADDED, Target(TargetKind.USER, "carol")),  # T0+4
            (ALICE, AuditAction.SIGN_OUT, Target(TargetKind.USER, "alice")),  # T0+5
        ],
    )

    async def actions(**filters: object) -> list[str]:
        page = await read_audit(clocked, AuditQuery(**filters))  # type: ignore[arg-type]
        return [f"{e.actor.name}:{e.action}" for e in page.entries]

    assert await actions() == [
        "alice:sign-out", "root:user-added", "alice:settlement-started", "bob:sign-in",
        "alice:sign-in",
    ]  # fmt: skip
    assert await actions(actor="alice") == [
        "alice:sign-out", "alice:settlement-started", "alice:sign-in",
    ]  # fmt: skip
    assert await actions(action=AuditAction.SIGN_IN) == ["bob:sign-in", "alice:sign-in"]
    assert await actions(actor="alice", action=AuditAction.SIGN_IN) == ["alice:sign-in"]
    assert await actions(target_kind=TargetKind.SERVICE_DAY) == ["alice:settlement-started"]
    assert await actions(target_kind=TargetKind.USER, target_id="carol") == ["root:user-added"]
    # since is inclusive, until exclusive
    window = {"since": T0 + timedelta(minutes=2), "until": T0 + timedelta(minutes=4)}
    assert await actions(**window) == ["alice:settlement-started", "bob:sign-in"]
    assert await actions(actor="nobody") == []
    page = await read_audit(clocked, AuditQuery(actor="root"))
    assert page.entries[0].actor.role is ActorRole.ADMINISTRATOR


async def test_pages_run_newest_first_and_lines_added_meanwhile_do_not_shift_them(
    clocked: UnitOfWorkFactory,
) -> None:
    targets = [Target(TargetKind.USER, f"u{i}") for i in range(7)]
    await _record_many(clocked, [(ALICE, AuditAction.USER_ADDED, t) for t in targets])
    first = await read_audit(clocked, AuditQuery(limit=3))
    assert [e.target.id for e in first.entries] == ["u6", "u5", "u4"]
    assert first.next is not None
    # A newer line arrives while finance reads page one: page two is unchanged.
    await _record_many(clocked, [(BOB, AuditAction.SIGN_IN, Target(TargetKind.USER, "bob"))])
    second = await read_audit(clocked, AuditQuery(limit=3, cursor=first.next))
    assert [e.target.id for e in second.entries] == ["u3", "u2", "u1"]
    assert second.next is not None
    last = await read_audit(clocked, AuditQuery(limit=3, cursor=second.next))
    assert [e.target.id for e in last.entries] == ["u0"]
    assert last.next is None


async def test_lines_of_the_same_instant_page_by_id(uow_factory: UnitOfWorkFactory) -> None:
    frozen = UnitOfWorkFactory(uow_factory.engine, lambda: T0)
    await _record_many(
        frozen, [(ALICE, AuditAction.SIGN_IN, Target(TargetKind.USER, f"s{i}")) for i in range(5)]
    )
    seen: list[str] = []
    cursor = None
    while True:
        page = await read_audit(frozen, AuditQuery(limit=2, cursor=cursor))
        seen += [e.target.id for e in page.entries]
        if page.next is None:
            break
        cursor = page.next
    assert seen == ["s4", "s3", "s2", "s1", "s0"]


def test_the_store_can_only_append_and_read() -> None:
    public = {name for name in dir(AuditLog) if not name.startswith("_")}
    assert public == {"append", "page"}


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_log SET reason = 'rewritten'", "DELETE FROM audit_log"],
)
async def test_the_database_refuses_to_rewrite_a_line(
    clocked: UnitOfWorkFactory, statement: str
) -> None:
    await _record_many(clocked, [(ALICE, AuditAction.SIGN_IN, Target(TargetKind.USER, "alice"))])
    async with clocked() as uow:
        with pytest.raises(DBAPIError, match="append-only"):
            await uow.session.execute(text(statement))
    page = await read_audit(clocked, AuditQuery())
    assert len(page.entries) == 1
    assert page.entries[0].reason is None


async def test_postgres_refuses_truncate(db_backend: str, clocked: UnitOfWorkFactory) -> None:
    if db_backend != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    await _record_many(clocked, [(ALICE, AuditAction.SIGN_IN, Target(TargetKind.USER, "alice"))])
    async with clocked() as uow:
        with pytest.raises(DBAPIError, match="append-only"):
            await uow.session.execute(text("TRUNCATE audit_log"))
    assert len((await read_audit(clocked, AuditQuery())).entries) == 1


async def test_the_migration_downgrades_and_upgrades_with_its_guards(db_url: str) -> None:
    await downgrade(db_url, "0008")
    await upgrade(db_url)
    engine = create_engine(db_url)
    try:
        uows = UnitOfWorkFactory(engine, StepClock())
        await _record_many(uows, [(ROOT, AuditAction.SIGN_IN, Target(TargetKind.USER, "x"))])
        async with uows() as uow:
            with pytest.raises(DBAPIError, match="append-only"):
                await uow.session.execute(text("DELETE FROM audit_log"))
    finally:
        await engine.dispose()


# -- values, without a database -----------------------------------------------------------


def test_every_user_role_is_an_actor_role() -> None:
    for role in UserRole:
        assert ActorRole.of(role).value == role.value


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: Actor("", ActorRole.FINANCE), InvalidAuditEntry),
        (lambda: Actor("a" * 65, ActorRole.FINANCE), InvalidAuditEntry),
        (lambda: Actor("bad\nname", ActorRole.FINANCE), InvalidAuditEntry),
        (lambda: Target(TargetKind.USER, ""), InvalidAuditEntry),
        (lambda: Target(TargetKind.USER, "x" * 201), InvalidAuditEntry),
        (
            lambda: AuditEntry(
                at=datetime(2026, 1, 1), actor=ALICE, action=AuditAction.SIGN_IN,
                target=Target(TargetKind.USER, "a"),
            ),
            NaiveTime,
        ),
        (
            lambda: AuditEntry(
                at=T0, actor=ALICE, action=AuditAction.SIGN_IN,
                target=Target(TargetKind.USER, "a"), after={"when": T0},
            ),
            InvalidAuditEntry,
        ),
        (
            lambda: AuditEntry(
                at=T0, actor=ALICE, action=AuditAction.SIGN_IN,
                target=Target(TargetKind.USER, "a"), before={"x": float("nan")},
            ),
            InvalidAuditEntry,
        ),
        (
            lambda: AuditEntry(
                at=T0, actor=ALICE, action=AuditAction.SIGN_IN,
                target=Target(TargetKind.USER, "a"), reason="",
            ),
            InvalidAuditEntry,
        ),
    ],
)  # fmt: skip
def test_bad_lines_are_refused_before_the_database(make: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        make()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"since": datetime(2026, 1, 1)}, "time zone"),
        ({"since": T0, "until": T0}, "before until"),
        ({"target_id": "alice"}, "target kind"),
        ({"cursor": "page-2"}, "cursor"),
        ({"cursor": "1.2.3"}, "cursor"),
    ],
)
def test_bad_queries_say_what_is_wrong(filters: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidAuditQuery, match=message):
        AuditQuery(**filters)  # type: ignore[arg-type]


async def test_record_uses_the_unit_of_works_clock(clocked: UnitOfWorkFactory) -> None:
    async def act(uow: UnitOfWork) -> AuditEntry:
        return await record(uow, ROOT, AuditAction.SIGN_IN, Target(TargetKind.USER, "root"))

    line = await run_in_uow(clocked, act)
    assert line.at == T0 + timedelta(minutes=1)
