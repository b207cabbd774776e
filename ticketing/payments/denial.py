"""Denying and re-admitting an account's credentials when its unpaid debt crosses its limit.

`DenyListPort` is what the payments flows need; `TableDenyList` implements it on the deny-list
tables of migration 0001 (snapshot `deny_list_entries`, numbered `deny_list_events`, version
from the `deny_list_version` counter) inside the caller's transaction. Entries we add carry
the reason `debt:{account}`, so lifting removes only denials that debt caused.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.db.models import CounterRow, CredentialRow, DenyListEntryRow, DenyListEventRow
from ticketing.riders import DenyAction

DENY_LIST_COUNTER = "deny_list_version"


def debt_reason(account_id: str) -> str:
    return f"debt:{account_id}"


class DenyListPort(Protocol):
    async def deny_account(self, session: AsyncSession, account_id: str, at: datetime) -> int:
        """Deny the account's live credentials for debt; returns how many were added."""
        ...

    async def lift_account(self, session: AsyncSession, account_id: str, at: datetime) -> int:
        """Remove the debt denials of the account's credentials; returns how many."""
        ...


class TableDenyList:
    async def _next_version(self, session: AsyncSession) -> int:
        version = await session.scalar(
            update(CounterRow)
            .where(CounterRow.name == DENY_LIST_COUNTER)
            .values(value=CounterRow.value + 1)
            .returning(CounterRow.value)
        )
        if version is None:
            raise RuntimeError(f"counter {DENY_LIST_COUNTER!r} missing: database not migrated")
        return int(version)

    async def deny_account(self, session: AsyncSession, account_id: str, at: datetime) -> int:
        already = select(DenyListEntryRow.credential_id)
        credentials = await session.scalars(
            select(CredentialRow.credential_id)
            .where(
                CredentialRow.account_id == account_id,
                CredentialRow.revoked_at.is_(None),
                CredentialRow.credential_id.not_in(already),
            )
            .order_by(CredentialRow.credential_id)
        )
        reason = debt_reason(account_id)
        added = 0
        for credential_id in list(credentials):
            version = await self._next_version(session)
            session.add(
                DenyListEventRow(
                    version=version,
                    credential_id=credential_id,
                    action=DenyAction.ADD,
                    reason=reason,
                    at=at,
                )
            )
            session.add(
                DenyListEntryRow(
                    credential_id=credential_id, reason=reason, version=version, denied_at=at
                )
            )
            added += 1
        await session.flush()
        return added

    async def lift_account(self, session: AsyncSession, account_id: str, at: datetime) -> int:
        reason = debt_reason(account_id)
        denied = list(
            await session.scalars(
                select(DenyListEntryRow.credential_id)
                .where(DenyListEntryRow.reason == reason)
                .order_by(DenyListEntryRow.credential_id)
            )
        )
        for credential_id in denied:
            version = await self._next_version(session)
            session.add(
                DenyListEventRow(
                    version=version,
                    credential_id=credential_id,
                    action=DenyAction.REMOVE,
                    reason=reason,
                    at=at,
                )
            )
            await session.execute(
                delete(DenyListEntryRow).where(DenyListEntryRow.credential_id == credential_id)
            )
        await session.flush()
        return len(denied)
