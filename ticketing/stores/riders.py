"""Rider accounts, passes bought and credentials issued.

Creating an account also opens its ledger account: `wallet:{id}` (with the overdraft limit)
for prepaid riders, `receivable:{id}` for postpaid ones. Every create is idempotent by id: the
same record again returns it, a different record under the same id raises `RecordConflict`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ticketing.clock import Clock, utc_now
from ticketing.db.dialect import among, any_of, bulk_insert, once_per_dialect, value_lists
from ticketing.db.models import CredentialRow, PassRow, RiderAccountRow, table_of
from ticketing.errors import InvalidRecord, RecordConflict, UnknownRecord
from ticketing.ledger.rules import AccountState
from ticketing.money import Money
from ticketing.postings import rider_ledger_account
from ticketing.riders import (
    AccountStatus,
    CredentialOwner,
    CredentialRecord,
    PassRecord,
    PassStatus,
    PaymentMode,
    RiderAccount,
)
from ticketing.stores.deny_list import DenyListStore
from ticketing.stores.ledger import Ledger


def _account(row: RiderAccountRow) -> RiderAccount:
    return RiderAccount(
        row.id,
        row.rider_category,
        row.payment_mode,
        row.currency,
        row.status,
        row.overdraft_limit,
        row.debt_limit,
    )


def _pass(row: PassRow) -> PassRecord:
    return PassRecord(
        row.id,
        row.account_id,
        row.fare_product_id,
        row.valid_from,
        row.valid_until,
        Money(row.price_amount, row.price_currency),
        row.purchased_at,
        row.status,
        row.posting_id,
    )


CREDENTIALS = table_of(CredentialRow)
ACCOUNTS = table_of(RiderAccountRow)
PASSES = table_of(PassRow)

# What every batch of daily charges reads and writes of its riders, built once
# (`once_per_dialect`). A table statement, not the ORM's: that one would look for the rows in
# the session to change them too (the readers here read afresh).
_debt_limits = once_per_dialect(
    lambda dialect: select(ACCOUNTS.c.id, ACCOUNTS.c.debt_limit).where(
        any_of(dialect, ACCOUNTS.c.id)
    )
)
_set_standings = once_per_dialect(
    lambda dialect: (
        update(ACCOUNTS)
        .where(
            any_of(dialect, ACCOUNTS.c.id),
            ACCOUNTS.c.status.in_([AccountStatus.ACTIVE, AccountStatus.DEBT_RECOVERY]),
            ACCOUNTS.c.status != bindparam("new_status"),
        )
        .values(status=bindparam("new_status"), updated_at=bindparam("at"))
    )
)
_CREDENTIAL_FIELDS = tuple(
    CREDENTIALS.c[name]
    for name in (
        "credential_id", "account_id", "valid_from", "valid_until", "issued_at", "pass_id",
        "revoked_at", "revoke_reason",
    )
)  # fmt: skip


_OWNER_FIELDS = (
    CREDENTIALS.c.credential_id, CREDENTIALS.c.account_id, CREDENTIALS.c.revoked_at
)  # fmt: skip


def _credential(row: CredentialRow | Row[Any]) -> CredentialRecord:
    return CredentialRecord(
        row.credential_id,
        row.account_id,
        row.valid_from,
        row.valid_until,
        row.issued_at,
        row.pass_id,
        row.revoked_at,
        row.revoke_reason,
    )


class Riders:
    """Rider accounts, their passes and credentials (see the module docstring)."""

    def __init__(
        self,
        session: AsyncSession,
        ledger: Ledger,
        deny_list: DenyListStore,
        clock: Clock = utc_now,
    ) -> None:
        self._session = session
        self._ledger = ledger
        self._deny_list = deny_list
        self._clock = clock

    # --- accounts ---------------------------------------------------------------------

    async def open_account(
        self, account: RiderAccount, *, at: datetime | None = None
    ) -> RiderAccount:
        await self.open_accounts([account], at=at)
        return account

    async def open_accounts(
        self, accounts: Sequence[RiderAccount], *, at: datetime | None = None
    ) -> None:
        """Open many accounts and their ledger accounts in a few statements whatever their
        number (`Ledger.open_accounts`); those stored already with the same details are left
        as they are, RecordConflict for one stored or given twice with other details."""
        wanted: dict[str, RiderAccount] = {}
        for account in accounts:
            if wanted.setdefault(account.id, account) != account:
                raise RecordConflict(f"rider account {account.id!r} given with other details")
        stored = await self.find_accounts(wanted)
        for account_id, account in stored.items():
            if account != wanted[account_id]:
                raise RecordConflict(f"rider account {account_id!r} exists with other details")
        new = [account for account_id, account in wanted.items() if account_id not in stored]
        prepaid = PaymentMode.PREPAID_WALLET
        ledger_accounts = [
            AccountState.new(
                rider_ledger_account(account),
                account.currency,
                account.overdraft_limit if account.payment_mode is prepaid else 0,
            )
            for account in new
        ]
        at = at or self._clock()
        await bulk_insert(
            self._session,
            ACCOUNTS,
            [
                {
                    "id": account.id,
                    "rider_category": account.rider_category,
                    "status": account.status,
                    "payment_mode": account.payment_mode,
                    "currency": account.currency,
                    "overdraft_limit": account.overdraft_limit,
                    "debt_limit": account.debt_limit,
                    "created_at": at,
                    "updated_at": at,
                }
                for account in new
            ],
        )
        await self._ledger.open_accounts(ledger_accounts)

    async def find_account(self, account_id: str) -> RiderAccount | None:
        row = await self._session.get(RiderAccountRow, account_id, populate_existing=True)
        return None if row is None else _account(row)

    async def find_accounts(self, account_ids: Iterable[str]) -> dict[str, RiderAccount]:
        """The accounts of those ids that exist, in one query (per IN-list chunk elsewhere than
        PostgreSQL)."""
        found: dict[str, RiderAccount] = {}
        for where in among(self._session, ACCOUNTS.c.id, sorted(set(account_ids))):
            rows = await self._session.scalars(
                select(RiderAccountRow).where(where).execution_options(populate_existing=True)
            )
            found.update((row.id, _account(row)) for row in rows)
        return found

    async def get_account(self, account_id: str) -> RiderAccount:
        account = await self.find_account(account_id)
        if account is None:
            raise UnknownRecord(f"no rider account {account_id!r}")
        return account

    async def set_debt_standing(
        self, account_id: str, in_debt: bool, *, at: datetime | None = None
    ) -> None:
        """Move an open account between active and debt recovery (a closed one stays closed)."""
        await self.set_debt_standings([account_id], in_debt, at=at)

    async def set_debt_standings(
        self, account_ids: Iterable[str], in_debt: bool, *, at: datetime | None = None
    ) -> None:
        """`set_debt_standing` of many accounts, in one statement."""
        status = AccountStatus.DEBT_RECOVERY if in_debt else AccountStatus.ACTIVE
        statement = _set_standings(self._session)
        for values in value_lists(self._session, sorted(set(account_ids))):
            await self._session.execute(
                statement, {"among": values, "new_status": status, "at": at or self._clock()}
            )

    async def debt_limits(self, account_ids: Iterable[str]) -> dict[str, int]:
        """The debt limit of each of these accounts the backend holds."""
        limits: dict[str, int] = {}
        for values in value_lists(self._session, sorted(set(account_ids))):
            rows = await self._session.execute(_debt_limits(self._session), {"among": values})
            limits.update((account, int(limit)) for account, limit in rows)
        return limits

    async def set_status(
        self, account_id: str, status: AccountStatus, *, at: datetime | None = None
    ) -> RiderAccount:
        account = await self.get_account(account_id)
        await self._session.execute(
            update(RiderAccountRow)
            .where(RiderAccountRow.id == account_id)
            .values(status=status, updated_at=at or self._clock())
        )
        return replace(account, status=status)

    async def set_overdraft_limit(self, account_id: str, limit: int) -> RiderAccount:
        account = await self.get_account(account_id)
        if account.payment_mode is PaymentMode.PREPAID_WALLET:
            await self._ledger.set_overdraft_limit(rider_ledger_account(account), limit)
        await self._session.execute(
            update(RiderAccountRow)
            .where(RiderAccountRow.id == account_id)
            .values(overdraft_limit=limit, updated_at=self._clock())
        )
        return replace(account, overdraft_limit=limit)

    async def accounts_with_mode(self, mode: PaymentMode) -> list[RiderAccount]:
        rows = await self._session.scalars(
            select(RiderAccountRow)
            .where(RiderAccountRow.payment_mode == mode)
            .order_by(RiderAccountRow.id)
        )
        return [_account(row) for row in rows]

    # --- passes -----------------------------------------------------------------------

    async def record_pass(self, bought: PassRecord) -> PassRecord:
        """Record a pass bought (the caller posts its payment and passes `posting_id`)."""
        if bought.valid_until <= bought.valid_from:
            raise InvalidRecord(f"pass {bought.id!r} ends before it starts")
        existing = await self._session.get(PassRow, bought.id, populate_existing=True)
        if existing is not None:
            if _pass(existing) != bought:
                raise RecordConflict(f"pass {bought.id!r} exists with other details")
            return bought
        await self.get_account(bought.account_id)
        self._session.add(
            PassRow(
                id=bought.id,
                account_id=bought.account_id,
                fare_product_id=bought.fare_product_id,
                valid_from=bought.valid_from,
                valid_until=bought.valid_until,
                price_amount=bought.price.amount,
                price_currency=bought.price.currency,
                status=bought.status,
                purchased_at=bought.purchased_at,
                posting_id=bought.posting_id,
            )
        )
        await self._session.flush()
        return bought

    async def find_pass(self, pass_id: str) -> PassRecord | None:
        row = await self._session.get(PassRow, pass_id, populate_existing=True)
        return None if row is None else _pass(row)

    async def get_pass(self, pass_id: str) -> PassRecord:
        found = await self.find_pass(pass_id)
        if found is None:
            raise UnknownRecord(f"no pass {pass_id!r}")
        return found

    async def passes_for(
        self, account_id: str, *, valid_at: datetime | None = None
    ) -> list[PassRecord]:
        """An account's passes, or only the active ones covering `valid_at`."""
        query = select(PassRow).where(PassRow.account_id == account_id)
        if valid_at is not None:
            query = query.where(
                PassRow.status == PassStatus.ACTIVE,
                PassRow.valid_from <= valid_at,
                PassRow.valid_until > valid_at,
            )
        rows = await self._session.scalars(query.order_by(PassRow.valid_from, PassRow.id))
        return [_pass(row) for row in rows]

    async def passes_of(self, account_ids: Iterable[str]) -> dict[str, list[PassRecord]]:
        """`passes_for` of many accounts at once (accounts without a pass are left out)."""
        found: dict[str, list[PassRecord]] = {}
        for where in among(self._session, PASSES.c.account_id, sorted(set(account_ids))):
            rows = await self._session.scalars(
                select(PassRow).where(where).order_by(PassRow.valid_from, PassRow.id)
            )
            for row in rows:
                found.setdefault(row.account_id, []).append(_pass(row))
        return found

    async def set_pass_status(self, pass_id: str, status: PassStatus) -> PassRecord:
        bought = await self.get_pass(pass_id)
        await self._session.execute(
            update(PassRow).where(PassRow.id == pass_id).values(status=status)
        )
        return replace(bought, status=status)

    # --- credentials ------------------------------------------------------------------

    async def issue_credential(self, credential: CredentialRecord) -> CredentialRecord:
        existing = await self._session.get(
            CredentialRow, credential.credential_id, populate_existing=True
        )
        if existing is not None:
            if _credential(existing) != credential:
                raise RecordConflict(
                    f"credential {credential.credential_id} exists with other details"
                )
            return credential
        await self.get_account(credential.account_id)
        if credential.pass_id is not None:
            await self.get_pass(credential.pass_id)
        self._session.add(
            CredentialRow(
                credential_id=credential.credential_id,
                account_id=credential.account_id,
                pass_id=credential.pass_id,
                valid_from=credential.valid_from,
                valid_until=credential.valid_until,
                issued_at=credential.issued_at,
                revoked_at=credential.revoked_at,
                revoke_reason=credential.revoke_reason,
            )
        )
        await self._session.flush()
        return credential

    async def get_credential(self, credential_id: int) -> CredentialRecord:
        row = await self._session.get(CredentialRow, credential_id, populate_existing=True)
        if row is None:
            raise UnknownRecord(f"no credential {credential_id}")
        return _credential(row)

    async def existing(self, account_ids: Iterable[str]) -> set[str]:
        """Which of these account ids the backend holds."""
        wanted = sorted(set(account_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), 2_000):
            found.update(
                await self._session.scalars(
                    select(RiderAccountRow.id).where(
                        RiderAccountRow.id.in_(wanted[start : start + 2_000])
                    )
                )
            )
        return found

    async def owners(self, credential_ids: Iterable[int]) -> dict[int, CredentialOwner]:
        """Whose each of these credentials is, and whether it is revoked (an upload's, at
        once); ids never issued are left out. Three columns as tuples: the whole credentials
        as records cost more than the query."""
        found: dict[int, CredentialOwner] = {}
        wanted = sorted(set(credential_ids))
        for condition in among(self._session, CREDENTIALS.c.credential_id, wanted):
            rows = await self._session.execute(select(*_OWNER_FIELDS).where(condition))
            found.update((row[0], CredentialOwner(row[1], row[2])) for row in rows)
        return found

    async def credentials_for(self, account_id: str) -> list[CredentialRecord]:
        rows = await self._session.scalars(
            select(CredentialRow)
            .where(CredentialRow.account_id == account_id)
            .order_by(CredentialRow.issued_at)
        )
        return [_credential(row) for row in rows]

    async def credentials_of(self, account_ids: Iterable[str]) -> dict[str, list[CredentialRecord]]:
        """`credentials_for` of many accounts at once (accounts without one are left out)."""
        found: dict[str, list[CredentialRecord]] = {}
        for where in among(self._session, CREDENTIALS.c.account_id, sorted(set(account_ids))):
            rows = await self._session.execute(
                select(*_CREDENTIAL_FIELDS).where(where).order_by(CREDENTIALS.c.issued_at)
            )
            for row in rows:
                found.setdefault(row.account_id, []).append(_credential(row))
        return found

    async def issue_new_credentials(self, credentials: Sequence[CredentialRecord]) -> None:
        """Store credentials whose ids were never issued, of accounts the backend holds (the
        caller read both), in one statement: `issue_credential` for a customer base's phones."""
        await bulk_insert(
            self._session,
            CREDENTIALS,
            [
                {
                    "credential_id": c.credential_id,
                    "account_id": c.account_id,
                    "pass_id": c.pass_id,
                    "valid_from": c.valid_from,
                    "valid_until": c.valid_until,
                    "issued_at": c.issued_at,
                    "revoked_at": c.revoked_at,
                    "revoke_reason": c.revoke_reason,
                }
                for c in credentials
            ],
        )

    async def revoke_credential(
        self, credential_id: int, reason: str, *, at: datetime | None = None
    ) -> CredentialRecord:
        """Revoke for good (lost phone, refund, fraud) and put it on the deny list.
        Revoking again keeps the first revocation."""
        credential = await self.get_credential(credential_id)
        if credential.revoked_at is not None:
            return credential
        at = at or self._clock()
        await self._session.execute(
            update(CredentialRow)
            .where(CredentialRow.credential_id == credential_id)
            .values(revoked_at=at, revoke_reason=reason)
        )
        await self._deny_list.deny(credential_id, reason, at=at)
        return replace(credential, revoked_at=at, revoke_reason=reason)
