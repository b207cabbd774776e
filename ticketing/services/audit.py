"""Use cases of the audit log: record a staff action inside its own unit of work, read pages.

`record` is called by a use case in the transaction that does the action, before it commits,
so the action and its audit line commit together (or neither does):

    async def add(uow: UnitOfWork) -> None:
        await uow.users.add(user, password_hash)
        await record(uow, by, AuditAction.USER_ADDED, Target(TargetKind.USER, user.username),
                     after={"role": user.role.value})

    page = await read_audit(uows, AuditQuery(action=AuditAction.SIGN_IN, limit=20))
    more = await read_audit(uows, AuditQuery(action=AuditAction.SIGN_IN, cursor=page.next))

The time is the unit of work's clock (aware UTC).
"""

from __future__ import annotations

from collections.abc import Callable

from ticketing.audit import Actor, AuditAction, AuditEntry, AuditPage, AuditQuery, Snapshot, Target
from ticketing.unit_of_work import UnitOfWork


async def record(
    uow: UnitOfWork,
    actor: Actor,
    action: AuditAction,
    target: Target,
    *,
    before: Snapshot | None = None,
    after: Snapshot | None = None,
    reason: str | None = None,
) -> AuditEntry:
    """Append one audit line in `uow`'s transaction (it commits with the caller's work)."""
    entry = AuditEntry(
        at=uow.clock(),
        actor=actor,
        action=action,
        target=target,
        before=before,
        after=after,
        reason=reason,
    )
    return await uow.audit.append(entry)


async def read_audit(uows: Callable[[], UnitOfWork], query: AuditQuery) -> AuditPage:
    """One page of the audit lines `query` selects, newest first."""
    async with uows() as uow:
        return await uow.audit.page(query)
