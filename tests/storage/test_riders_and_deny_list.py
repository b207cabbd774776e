"""Rider accounts open their ledger account; passes and credentials are idempotent records;
the deny list is versioned and served as deltas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from qr.denylist import EMPTY_DENY_LIST
from qr.denylist import DenyList as GateDenyList
from ticketing.errors import RecordConflict, UnknownDenyListVersion, UnknownRecord
from ticketing.ledger import InsufficientFunds, Posting, accounts
from ticketing.money import Money
from ticketing.riders import (
    AccountStatus,
    CredentialRecord,
    DenyAction,
    PassRecord,
    PassStatus,
    PaymentMode,
    RiderAccount,
)
from ticketing.unit_of_work import UnitOfWorkFactory

T0 = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)
PREPAID = RiderAccount("a1", "adult", PaymentMode.PREPAID_WALLET, "VND", overdraft_limit=5_000)
POSTPAID = RiderAccount("a2", "student", PaymentMode.POSTPAID_CARD, "VND", debt_limit=100_000)


def credential(cid: int, account: str = "a1", pass_id: str | None = None) -> CredentialRecord:
    return CredentialRecord(cid, account, T0, T0 + timedelta(days=365), T0, pass_id)


async def test_accounts_open_their_ledger_account_once(uow_factory: UnitOfWorkFactory) -> None:
    async with uow_factory() as uow:
        assert await uow.riders.open_account(PREPAID) == PREPAID
        await uow.riders.open_account(POSTPAID)
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.riders.open_account(PREPAID) == PREPAID
        with pytest.raises(RecordConflict):
            await uow.riders.open_account(
                RiderAccount("a1", "child", PaymentMode.PREPAID_WALLET, "VND")
            )
        wallet = await uow.ledger.account(accounts.wallet("a1"))
        receivable = await uow.ledger.account(accounts.receivable("a2"))
        fare = Posting.transfer(
            "f",
            debit=wallet.code,
            credit=accounts.operator("bus"),
            amount=Money(5_001, "VND"),
            occurred_at=T0,
        )
        with pytest.raises(InsufficientFunds):
            await uow.ledger.post(fare)
        closed = await uow.riders.set_status("a2", AccountStatus.DEBT_RECOVERY)
        assert (await uow.riders.get_account("a2")) == closed
        with pytest.raises(UnknownRecord):
            await uow.riders.get_account("nobody")
        assert [a.id for a in await uow.riders.accounts_with_mode(PaymentMode.POSTPAID_CARD)] == [
            "a2"
        ]
    assert (wallet.overdraft_limit, receivable.overdraft_limit) == (5_000, 0)
    assert closed.status is AccountStatus.DEBT_RECOVERY


async def test_passes_are_recorded_once_and_found_by_validity(
    uow_factory: UnitOfWorkFactory,
) -> None:
    monthly = PassRecord(
        "p1", "a1", "2A_monthly", T0, T0 + timedelta(days=30), Money(200_000, "VND"), T0
    )
    async with uow_factory() as uow:
        await uow.riders.open_account(PREPAID)
        await uow.riders.record_pass(monthly)
        assert await uow.riders.record_pass(monthly) == monthly
        with pytest.raises(RecordConflict):
            await uow.riders.record_pass(
                PassRecord(
                    "p1", "a1", "2A_day", T0, T0 + timedelta(days=1), Money(30_000, "VND"), T0
                )
            )
        with pytest.raises(UnknownRecord):
            await uow.riders.record_pass(
                PassRecord("p2", "ghost", "x", T0, T0 + timedelta(days=1), Money(1, "VND"), T0)
            )
        await uow.commit()
    async with uow_factory() as uow:
        assert await uow.riders.passes_for("a1", valid_at=T0 + timedelta(days=3)) == [monthly]
        assert await uow.riders.passes_for("a1", valid_at=T0 + timedelta(days=30)) == []
        await uow.riders.set_pass_status("p1", PassStatus.REFUNDED)
        assert await uow.riders.passes_for("a1", valid_at=T0 + timedelta(days=3)) == []
        assert (await uow.riders.get_pass("p1")).status is PassStatus.REFUNDED


async def test_revoking_a_credential_denies_it_and_versions_only_grow(
    uow_factory: UnitOfWorkFactory,
) -> None:
    async with uow_factory() as uow:
        await uow.riders.open_account(PREPAID)
        for cid in (11, 12, 2**64 - 1):
            await uow.riders.issue_credential(credential(cid))
        assert await uow.riders.issue_credential(credential(11)) == credential(11)
        with pytest.raises(RecordConflict):
            await uow.riders.issue_credential(CredentialRecord(11, "a1", T0, T0, T0))
        assert await uow.deny_list.version() == 0
        revoked = await uow.riders.revoke_credential(11, "lost phone", at=T0)
        assert (await uow.riders.revoke_credential(11, "again")).revoke_reason == "lost phone"
        await uow.commit()
    assert revoked.revoked_at == T0
    async with uow_factory() as uow:
        assert await uow.deny_list.version() == 1
        v_debt = await uow.deny_list.deny_account("a1", "debt")  # 12 and max; 11 already denied
        assert v_debt == 3
        assert await uow.deny_list.deny(12, "debt") == 2  # already denied: same version
        v_paid = await uow.deny_list.allow_account("a1", "debt paid")  # lifts 12 and max, not 11
        assert await uow.deny_list.allow_account("a1", "again") is None  # nothing left to lift
        await uow.commit()
    async with uow_factory() as uow:
        full = await uow.deny_list.history(0)
        since_debt = await uow.deny_list.history(v_debt)
        net_since_debt = await uow.deny_list.delta(v_debt)
        net_since_start = await uow.deny_list.delta(0)
        up_to_date = await uow.deny_list.delta(5)
        snapshot = await uow.deny_list.snapshot()
        assert await uow.deny_list.is_denied(11)
        assert not await uow.deny_list.is_denied(12)
        assert await uow.deny_list.allow(12) == snapshot.version  # not denied: no event
        with pytest.raises(UnknownDenyListVersion, match="snapshot"):
            await uow.deny_list.delta(snapshot.version + 1)
    assert v_paid == snapshot.version == 5
    assert snapshot.ids == {11}
    assert [(e.version, e.credential_id, e.action) for e in full.events] == [
        (1, 11, DenyAction.ADD),
        (2, 12, DenyAction.ADD),
        (3, 2**64 - 1, DenyAction.ADD),
        (4, 12, DenyAction.REMOVE),
        (5, 2**64 - 1, DenyAction.REMOVE),
    ]
    assert (since_debt.since, since_debt.version, len(since_debt.events)) == (3, 5, 2)
    # The gates' shape: a gate holding the list at version 3 applies the net delta and ends
    # with the snapshot; one starting from nothing sees 12 and max added then lifted: no change.
    at_debt = GateDenyList(3, frozenset({11, 12, 2**64 - 1}))
    assert net_since_debt is not None
    assert net_since_start is not None
    assert (net_since_debt.added, net_since_debt.removed) == (set(), {12, 2**64 - 1})
    assert at_debt.apply(net_since_debt).ids == snapshot.ids
    assert (net_since_start.added, net_since_start.removed) == ({11}, set())
    assert EMPTY_DENY_LIST.apply(net_since_start).ids == snapshot.ids
    assert up_to_date is None


async def test_expired_credentials_leave_the_deny_list(uow_factory: UnitOfWorkFactory) -> None:
    now = T0 + timedelta(days=400)  # credential() is valid for 365 days from T0
    async with uow_factory() as uow:
        await uow.riders.open_account(PREPAID)
        await uow.riders.issue_credential(credential(21))  # expired by now
        await uow.riders.issue_credential(
            CredentialRecord(22, "a1", T0, now + timedelta(days=1), T0, None)  # still valid
        )
        await uow.deny_list.deny_many([21, 22, 23], "lost phone", at=T0)  # 23: no credential
        before = await uow.deny_list.version()
        assert await uow.deny_list.prune_expired(now) == 1
        assert await uow.deny_list.prune_expired(now) == 0  # gone: nothing more
        assert (await uow.deny_list.snapshot()).ids == {22, 23}
        delta = await uow.deny_list.delta(before)
        assert delta is not None
        assert delta.removed == {21}
        history = await uow.deny_list.history(before)
        assert [(e.credential_id, e.action, e.reason) for e in history.events] == [
            (21, DenyAction.REMOVE, "expired")
        ]
        # Within the hour's grace a just-expired credential stays.
        assert await uow.deny_list.prune_expired(now - timedelta(days=36)) == 0
