"""The versioned deny list: credentials gates must refuse, with deltas since a version.

Each add or remove is an event numbered from the `deny_list_version` counter. The counter is
bumped with UPDATE ... RETURNING, whose row lock is held to commit, so versions become visible
in order: a gate that fetched up to version N never later misses an event numbered <= N.

Gates receive the list in the shape `qr` verifies: `snapshot()` is a `qr.denylist.DenyList`,
`delta(since)` a `qr.denylist.DenyListDelta` (the net change). `history(since)` keeps the
events with their reasons, for audit.

The list stays bounded: a credential whose validity ended (more than `EXPIRY_GRACE` ago) is
refused by every gate as expired anyway, so `prune_expired` removes it (a REMOVE event with
reason `expired`, which deltas carry like any other; the server runs it periodically,
`ticketing.services.riders.prune_deny_list`). The list's size is then the denied credentials
still valid, not every credential ever denied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from qr.denylist import DenyList as GateDenyList
from qr.denylist import DenyListDelta
from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import any_of, chunks, once_per_dialect, value_lists
from ticketing.db.models import (
    CounterRow,
    CredentialRow,
    DenyListEntryRow,
    DenyListEventRow,
    table_of,
)
from ticketing.errors import UnknownDenyListVersion
from ticketing.riders import DenyAction, DenyListEvent, DenyListHistory

COUNTERS = table_of(CounterRow)
ENTRIES = table_of(DenyListEntryRow)
EVENTS = table_of(DenyListEventRow)
CREDENTIALS = table_of(CredentialRow)
VERSION_COUNTER = "deny_list_version"
# A gate refuses an expired credential by its own clock; an hour covers any clock it may keep.
EXPIRY_GRACE = timedelta(hours=1)
EXPIRED = "expired"

# Asked by every batch of daily charges (`denied_credentials`), so built once.
_denied_credentials = once_per_dialect(
    lambda dialect: (
        select(CREDENTIALS.c.account_id, ENTRIES.c.credential_id)
        .join(CREDENTIALS, CREDENTIALS.c.credential_id == ENTRIES.c.credential_id)
        .where(any_of(dialect, CREDENTIALS.c.account_id), CREDENTIALS.c.revoked_at.is_(None))
    )
)


class DenyListStore:
    """The backend's deny list: denials, lifts, and the list and deltas gates load."""

    def __init__(self, session: AsyncSession, clock: Clock = utc_now) -> None:
        self._session = session
        self._clock = clock

    async def version(self) -> int:
        value = await self._session.scalar(
            select(COUNTERS.c.value).where(COUNTERS.c.name == VERSION_COUNTER)
        )
        return int(value or 0)

    async def _next_versions(self, count: int) -> range:
        top = await self._session.scalar(
            update(COUNTERS)
            .where(COUNTERS.c.name == VERSION_COUNTER)
            .values(value=COUNTERS.c.value + count)
            .returning(COUNTERS.c.value)
        )
        if top is None:
            raise RuntimeError("deny list counter missing: run the migrations")
        return range(top - count + 1, top + 1)

    async def deny(self, credential_id: int, reason: str, *, at: datetime | None = None) -> int:
        """Add a credential; already denied: no new event. Returns the version that has it."""
        return (await self.deny_many([credential_id], reason, at=at))[credential_id]

    async def deny_many(
        self, credential_ids: Sequence[int], reason: str, *, at: datetime | None = None
    ) -> dict[int, int]:
        at = at or self._clock()
        found = await self._session.execute(
            select(ENTRIES.c.credential_id, ENTRIES.c.version).where(
                ENTRIES.c.credential_id.in_(set(credential_ids))
            )
        )
        current: dict[int, int] = {row.credential_id: row.version for row in found}
        new = sorted(set(credential_ids) - set(current))
        if new:
            versions = await self._next_versions(len(new))
            assigned = dict(zip(new, versions, strict=True))
            rows = [
                {"credential_id": c, "version": v, "reason": reason} for c, v in assigned.items()
            ]
            await self._session.execute(ENTRIES.insert(), [{**r, "denied_at": at} for r in rows])
            await self._session.execute(
                EVENTS.insert(), [{**r, "action": DenyAction.ADD.value, "at": at} for r in rows]
            )
            current.update(assigned)
        return current

    async def prune_expired(self, at: datetime | None = None) -> int:
        """Remove credentials whose validity ended more than `EXPIRY_GRACE` before `at` (one
        REMOVE event each, reason `expired`); how many were removed."""
        at = at or self._clock()
        expired = list(
            await self._session.scalars(
                select(ENTRIES.c.credential_id)
                .join(CREDENTIALS, CREDENTIALS.c.credential_id == ENTRIES.c.credential_id)
                .where(CREDENTIALS.c.valid_until < at - EXPIRY_GRACE)
            )
        )
        for part in chunks(sorted(expired)):  # bound parameters per statement
            await self.allow_many(part, EXPIRED, at=at)
        return len(expired)

    async def allow(
        self, credential_id: int, reason: str = "", *, at: datetime | None = None
    ) -> int:
        """Lift a denial; not denied: no new event. Returns the list version after."""
        return await self.allow_many([credential_id], reason, at=at)

    async def allow_many(
        self, credential_ids: Sequence[int], reason: str = "", *, at: datetime | None = None
    ) -> int:
        denied = sorted(
            await self._session.scalars(
                select(ENTRIES.c.credential_id).where(
                    ENTRIES.c.credential_id.in_(set(credential_ids))
                )
            )
        )
        if not denied:
            return await self.version()
        return await self._lift(denied, reason, at or self._clock())

    async def _lift(self, denied: Sequence[int], reason: str, at: datetime) -> int:
        """Remove denied credentials from the list, one REMOVE event each; the version after."""
        versions = await self._next_versions(len(denied))
        await self._session.execute(delete(ENTRIES).where(ENTRIES.c.credential_id.in_(denied)))
        await self._session.execute(
            EVENTS.insert(),
            [
                {
                    "credential_id": cid,
                    "version": v,
                    "reason": reason,
                    "action": DenyAction.REMOVE.value,
                    "at": at,
                }
                for cid, v in zip(denied, versions, strict=True)
            ],
        )
        return versions[-1]

    async def deny_account(
        self, account_id: str, reason: str, *, at: datetime | None = None
    ) -> int:
        """Deny every unrevoked credential of an account (e.g. debt past its limit)."""
        ids = await self._live_credentials(account_id)
        await self.deny_many(ids, reason, at=at)
        return await self.version()

    async def allow_account(
        self, account_id: str, reason: str = "", *, at: datetime | None = None
    ) -> int | None:
        """Lift the denials of an account's unrevoked credentials (revoked ones stay denied):
        the list version after, None if none of them was denied (the list unchanged, its
        version not read: a settled daily charge asks this of every rider who owes nothing)."""
        denied = (await self.denied_credentials([account_id])).get(account_id)
        if not denied:
            return None
        return await self._lift(denied, reason, at or self._clock())

    async def denied_credentials(self, account_ids: Iterable[str]) -> dict[str, list[int]]:
        """The denied unrevoked credentials of each of these accounts that has any."""
        found: dict[str, list[int]] = {}
        query = _denied_credentials(self._session)
        for values in value_lists(self._session, sorted(set(account_ids))):
            for account, credential in await self._session.execute(query, {"among": values}):
                found.setdefault(account, []).append(credential)
        # in the credentials' own order (as unsigned numbers, not as the column stores them)
        return {account: sorted(credentials) for account, credentials in found.items()}

    async def _live_credentials(self, account_id: str) -> list[int]:
        return list(
            await self._session.scalars(
                select(CREDENTIALS.c.credential_id).where(
                    CREDENTIALS.c.account_id == account_id, CREDENTIALS.c.revoked_at.is_(None)
                )
            )
        )

    async def is_denied(self, credential_id: int) -> bool:
        found = await self._session.scalar(
            select(ENTRIES.c.credential_id).where(ENTRIES.c.credential_id == credential_id)
        )
        return found is not None

    async def snapshot(self) -> GateDenyList:
        """The whole list at its current version, for a gate starting from nothing."""
        version = await self.version()
        ids = frozenset(await self._session.scalars(select(ENTRIES.c.credential_id)))
        return GateDenyList(version, ids, issued_at=self._clock())

    async def delta(self, since: int) -> DenyListDelta | None:
        """What takes a gate's list from version `since` to the current one (None when the
        gate is up to date)."""
        history = await self.history(since)
        if history.version == since:
            return None
        first: dict[int, DenyAction] = {}
        last: dict[int, DenyAction] = {}
        for event in history.events:
            first.setdefault(event.credential_id, event.action)
            last[event.credential_id] = event.action
        # Added then removed (or the reverse) within the window: no net change for the gate.
        changed = [cid for cid, action in last.items() if first[cid] is action]
        return DenyListDelta(
            since,
            history.version,
            added=frozenset(c for c in changed if last[c] is DenyAction.ADD),
            removed=frozenset(c for c in changed if last[c] is DenyAction.REMOVE),
            issued_at=self._clock(),
        )

    async def history(self, since: int) -> DenyListHistory:
        """Events after version `since`, oldest first, with their reasons."""
        head = await self.version()
        if not 0 <= since <= head:
            raise UnknownDenyListVersion(
                f"deny list version {since} is not in 0..{head}; fetch a snapshot"
            )
        rows = await self._session.execute(
            select(EVENTS)
            .where(EVENTS.c.version > since, EVENTS.c.version <= head)
            .order_by(EVENTS.c.version)
        )
        events = tuple(
            DenyListEvent(r.version, r.credential_id, DenyAction(r.action), r.reason, r.at)
            for r in rows
        )
        return DenyListHistory(since, head, events)
