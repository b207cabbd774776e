"""Passenger use cases (ticketing/services/passengers.py) on SQLite and PostgreSQL: the phone
credential issued to the first phone only, moved explicitly (limited per day) and its status
told to the old phone, trips with fares, charges, receipts, the account overview, and a lost
phone reported (its pass and every session ended)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from faregate_data import HANOI_FEED
from gateways.localstripe_server import LocalStripe
from gateways.stripe_gateway import StripeGateway
from qr.credential import CredentialFlags
from qr.denylist import EMPTY_DENY_LIST, DenyList
from qr.issue import PhoneCredential
from qr.keys import KeyMaterial, init_keys
from qr.memory import GateMemory
from qr.verifier import GateContext, Verifier, VerifierPolicy
from tests.helpers.payments import ride_the_metro
from ticketing import postings
from ticketing.audit import Actor, ActorRole, AuditAction, AuditQuery, TargetKind
from ticketing.errors import (
    CredentialNotIssued,
    InvalidRecord,
    MoveLimitReached,
    PassOnAnotherPhone,
    UnknownRecord,
)
from ticketing.fares.feed import load_feed
from ticketing.ledger import UnknownAccount
from ticketing.ledger import accounts as ledger_accounts
from ticketing.money import Money
from ticketing.payment_flows.debt import debt_reason
from ticketing.payment_flows.service import PaymentsService
from ticketing.payments.model import AttemptStatus, PaymentPurpose
from ticketing.riders import CredentialRecord, PaymentMode
from ticketing.service_day import service_day
from ticketing.services import passengers
from ticketing.services.riders import (
    Registration,
    buy_pass,
    deny_list_delta,
    deny_list_snapshot,
    register_riders,
)
from ticketing.services.trip_days import trip_days
from ticketing.services.users import ScryptCost, create_user, sign_in, user_for_token
from ticketing.stores.payments import SavedCard
from ticketing.unit_of_work import UnitOfWorkFactory
from ticketing.users import ApiUser, UserRole

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyMaterial:
    return init_keys(tmp_path_factory.mktemp("keys"), NOW - timedelta(days=1))


async def open_account(
    uows: UnitOfWorkFactory, mode: PaymentMode = PaymentMode.PREPAID_WALLET
) -> str:
    account = passengers.passenger_account(passengers.new_account_id(), payment_mode=mode)
    async with uows() as uow:
        await passengers.open_passenger_account(uow, account, NOW)
        await uow.commit()
    return account.id


def accepted(keys: KeyMaterial, phone: PhoneCredential, deny: DenyList, at: datetime) -> bool:
    """Whether a gate holding `deny` lets the phone's code through at `at`."""
    verifier = Verifier(keys.keyset, keys.secure_module(), VerifierPolicy(), deny)
    gate = GateContext("M2A-01-G1")
    return verifier.verify(phone.token_at(at), at=at, gate=gate, memory=GateMemory()).accepted


RIDER = Actor("rider", ActorRole.PASSENGER)


async def test_the_first_fetch_issues_and_a_later_one_leaves_the_pass_alone(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    account_id = await open_account(uow_factory)
    first = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    assert first.revoked == ()
    assert first.phone.credential.credential_id == first.record.credential_id
    assert first.phone.credential.product == passengers.PAY_AS_YOU_GO
    assert accepted(keys, first.phone, await deny_list_snapshot(uow_factory), NOW)

    with pytest.raises(PassOnAnotherPhone):
        await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    assert accepted(keys, first.phone, await deny_list_snapshot(uow_factory), NOW)
    overview = await passengers.account_overview(uow_factory, account_id)
    assert overview.live_credentials == 1
    # An expired credential is on no phone: the next fetch issues a new one.
    later = first.record.valid_until + timedelta(minutes=1)
    renewed = await passengers.fetch_credential(uow_factory, keys, account_id, at=later)
    assert renewed.record.credential_id != first.record.credential_id


async def test_moving_the_pass_revokes_the_old_phones_and_is_limited_per_day(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    account_id = await open_account(uow_factory)
    first = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    moved = await passengers.move_credential(
        uow_factory, keys, account_id, by=RIDER, at=NOW, moves_per_day=2
    )
    assert moved.issued.revoked == (first.record.credential_id,)
    assert moved.moves_left == 1
    deny = await deny_list_snapshot(uow_factory)
    assert not accepted(keys, first.phone, deny, NOW)
    assert accepted(keys, moved.issued.phone, deny, NOW)
    told = await passengers.credential_status(
        uow_factory, account_id, first.record.credential_id, at=NOW, moves_per_day=2
    )
    assert (told.state, told.moves_left) == (passengers.CredentialState.MOVED, 1)
    assert told.changed_at is not None
    live = await passengers.credential_status(
        uow_factory, account_id, moved.issued.record.credential_id, at=NOW
    )
    assert (live.state, live.changed_at) == (passengers.CredentialState.LIVE, None)

    await passengers.move_credential(
        uow_factory, keys, account_id, by=RIDER, at=NOW, moves_per_day=2
    )
    with pytest.raises(MoveLimitReached):
        await passengers.move_credential(
            uow_factory, keys, account_id, by=RIDER, at=NOW, moves_per_day=2
        )
    assert (await passengers.account_overview(uow_factory, account_id)).live_credentials == 1
    # Another account's credential is none of this one's business.
    other = await open_account(uow_factory)
    with pytest.raises(UnknownRecord):
        await passengers.credential_status(uow_factory, other, first.record.credential_id, at=NOW)


async def test_postpaid_credential_carries_the_postpaid_flag(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    account_id = await open_account(uow_factory, PaymentMode.POSTPAID_CARD)
    issued = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    assert issued.phone.credential.flags & CredentialFlags.POSTPAID


async def test_expired_keys_cannot_sign(uow_factory: UnitOfWorkFactory, tmp_path: Path) -> None:
    old = init_keys(tmp_path / "old", NOW - timedelta(days=3000))
    account_id = await open_account(uow_factory)
    with pytest.raises(CredentialNotIssued):
        await passengers.fetch_credential(uow_factory, old, account_id, at=NOW)
    overview = await passengers.account_overview(uow_factory, account_id)
    assert overview.live_credentials == 0


async def test_a_lost_phone_loses_its_pass_and_the_new_phone_takes_one(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    account_id = await open_account(uow_factory)
    held = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    lost = await passengers.report_lost(uow_factory, account_id, by=RIDER, at=NOW)
    assert lost.revoked == (held.record.credential_id,)
    assert lost.sessions_ended == 0  # this account has no user signing in
    deny = await deny_list_snapshot(uow_factory)
    assert not accepted(keys, held.phone, deny, NOW)
    status = await passengers.credential_status(
        uow_factory, account_id, held.record.credential_id, at=NOW
    )
    assert status.state is passengers.CredentialState.LOST
    new = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    assert accepted(keys, new.phone, deny, NOW)


async def test_a_lost_phone_is_one_transaction_and_reaches_gates_as_a_delta(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    account = passengers.passenger_account(passengers.new_account_id())
    # two phones hold live credentials (issued before a pass lived on one phone): both go
    held = [
        CredentialRecord(cid, account.id, NOW, NOW + timedelta(days=30), NOW + timedelta(minutes=n))
        for n, cid in enumerate((71, 72))
    ]
    await register_riders(uow_factory, [Registration(account, held)], at=NOW)
    user = ApiUser(f"lost-{account.id}", UserRole.PASSENGER, account.id)
    await create_user(
        uow_factory, user.username, "a long enough password", UserRole.PASSENGER,
        account_id=account.id, cost=ScryptCost(n=2**8),
    )  # fmt: skip
    sessions = [
        await sign_in(uow_factory, user.username, "a long enough password") for _ in range(2)
    ]
    gate = await deny_list_snapshot(uow_factory)
    assert await deny_list_delta(uow_factory, gate.version) is None  # nothing new yet
    commits: list[Any] = []

    def committed(connection: Any) -> None:
        commits.append(connection)

    engine = uow_factory.engine.sync_engine
    event.listen(engine, "commit", committed)
    try:
        lost = await passengers.report_lost(
            uow_factory, account.id, by=Actor(user.username, ActorRole.PASSENGER), at=NOW
        )
    finally:
        event.remove(engine, "commit", committed)
    assert len(commits) == 1  # revoke both, end the sessions, record it: one transaction
    assert lost.revoked == (71, 72)
    assert lost.sessions_ended == 2
    for session in sessions:
        assert await user_for_token(uow_factory, session.token) is None
    delta = await deny_list_delta(uow_factory, gate.version)
    assert delta is not None
    gate = gate.apply(delta)
    assert gate.version == lost.deny_list_version
    assert gate.ids == (await deny_list_snapshot(uow_factory)).ids == frozenset({71, 72})
    assert EMPTY_DENY_LIST.apply_all([delta]).ids == {71, 72}  # a gate that had no list
    async with uow_factory() as uow:
        reasons = {
            c.credential_id: c.revoke_reason for c in await uow.riders.credentials_for(account.id)
        }
        page = await uow.audit.page(
            AuditQuery(target_kind=TargetKind.ACCOUNT, target_id=account.id)
        )
    assert reasons == {71: passengers.LOST_PHONE, 72: passengers.LOST_PHONE}
    assert [(e.action, e.actor.name) for e in page.entries] == [
        (AuditAction.PHONE_LOST, user.username)
    ]


async def test_overview_trips_charges_and_receipts(
    uow_factory: UnitOfWorkFactory,
    keys: KeyMaterial,
    localstripe_server: LocalStripe,
) -> None:
    feed = load_feed(HANOI_FEED)
    account_id = await open_account(uow_factory)
    assert (await trip_days(uow_factory, feed, account_id)).days == ()
    assert await passengers.charges(uow_factory, account_id) == []
    assert await passengers.receipts(uow_factory, account_id) == []
    async with StripeGateway(localstripe_server.api_key, localstripe_server.base_url) as gateway:
        payments = PaymentsService(uow_factory, gateway)
        await payments.save_card(account_id, "pm_card_visa")
        paid = await payments.top_up(account_id, Money(300_000, "VND"), request_id="t1")
    assert paid.succeeded

    day = date(2026, 11, 24)
    cost = await ride_the_metro(uow_factory, feed, account_id, day)
    [ridden] = (await trip_days(uow_factory, feed, account_id)).days
    assert [t.from_stop_id for t in ridden.trips] == ["m2a_01", "m2a_12"]  # in the order ridden
    assert ridden.service_day == day
    assert ridden.total.amount == sum(t.fare.amount for t in ridden.trips) == cost.amount == 27_000
    assert all(t.route_id == "m2a" for t in ridden.trips)

    sale = await buy_pass(uow_factory, feed, account_id, "m2a_month", at=NOW)
    overview = await passengers.account_overview(uow_factory, account_id)
    assert overview.balance == Money(300_000 - 27_000, "VND") - sale.price
    assert (overview.has_card, overview.card_last4) == (True, "4242")
    assert overview.spendable == overview.balance  # nothing held, no overdraft
    assert overview.account.payment_mode is PaymentMode.PREPAID_WALLET

    charged = await passengers.charges(uow_factory, account_id)
    assert [(c.purpose, c.status, c.amount) for c in charged] == [
        (PaymentPurpose.TOP_UP, AttemptStatus.SUCCEEDED, Money(300_000, "VND"))
    ]
    kinds = {r.kind: r.amount for r in await passengers.receipts(uow_factory, account_id)}
    assert kinds == {"top_up": Money(300_000, "VND"), "pass": sale.price}

    # A pass holder's next credential says so.
    issued = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    assert issued.phone.credential.product == passengers.PASS_HOLDER


async def test_one_passenger_never_sees_another(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    feed = load_feed(HANOI_FEED)
    mine, theirs = await open_account(uow_factory), await open_account(uow_factory)
    await ride_the_metro(uow_factory, feed, theirs, date(2026, 11, 24))
    await passengers.fetch_credential(uow_factory, keys, theirs, at=NOW)
    assert (await trip_days(uow_factory, feed, mine)).days == ()
    assert (await passengers.account_overview(uow_factory, mine)).live_credentials == 0


async def test_a_new_fetch_does_not_escape_a_debt_denial(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    account_id = await open_account(uow_factory, PaymentMode.POSTPAID_CARD)
    first = await passengers.fetch_credential(uow_factory, keys, account_id, at=NOW)
    async with uow_factory() as uow:
        await uow.deny_list.deny_account(account_id, debt_reason(account_id), at=NOW)
        await uow.riders.set_debt_standing(account_id, True, at=NOW)
        await uow.commit()
    second = await passengers.move_credential(uow_factory, keys, account_id, by=RIDER, at=NOW)
    deny = await deny_list_snapshot(uow_factory)
    assert not accepted(keys, first.phone, deny, NOW)
    assert not accepted(keys, second.issued.phone, deny, NOW)


async def test_the_customer_base_is_loaded_with_the_cards_it_saved_earlier(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """`load_passengers` with cards: each account's card is the one charged, as saving it
    through the payments flow makes it; an account without one has none."""
    suffix = str(NOW.timestamp()).replace(".", "")
    with_card, without = f"base-card-{suffix}", f"base-none-{suffix}"
    accounts = [
        (passengers.passenger_account(a, payment_mode=PaymentMode.POSTPAID_CARD), a)
        for a in (with_card, without)
    ]
    card = passengers.GatewayCard("cus_earlier", "pm_earlier", "4242")
    loaded = await passengers.load_passengers(
        uow_factory, accounts, "unused-hash", at=NOW, cards={with_card: card}
    )
    assert loaded == 2
    async with uow_factory() as uow:
        saved = await uow.payments.saved_cards([with_card, without])
        customer = await uow.payments.add_customer(with_card)
    assert list(saved) == [with_card]
    assert saved[with_card] == SavedCard("cus_earlier", "pm_earlier", "4242")
    assert customer == (False, "cus_earlier")


async def test_the_customer_base_is_loaded_with_the_balances_its_wallets_carry(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """`load_passengers` with balances: each prepaid wallet holds its balance of earlier days,
    posted from the money collected then (never through a gateway's clearing account), and
    the ledger's invariants hold; a balance for a postpaid account (or in another currency)
    refuses the whole load."""
    suffix = str(NOW.timestamp()).replace(".", "")
    carried, empty, postpaid = (f"base-{n}-{suffix}" for n in ("carried", "empty", "postpaid"))
    base = [
        (passengers.passenger_account(carried), carried),
        (passengers.passenger_account(empty), empty),
        (passengers.passenger_account(postpaid, payment_mode=PaymentMode.POSTPAID_CARD), postpaid),
    ]
    for wrong in ({postpaid: Money(50_000, "VND")}, {carried: Money(5, "USD")}):
        with pytest.raises(InvalidRecord):
            await passengers.load_passengers(
                uow_factory, base, "unused-hash", at=NOW, balances=wrong
            )
    async with uow_factory() as uow:
        assert await uow.riders.accounts_with_mode(PaymentMode.PREPAID_WALLET) == []
    loaded = await passengers.load_passengers(
        uow_factory, base, "unused-hash", at=NOW, balances={carried: Money(120_000, "VND")}
    )
    assert loaded == 3
    assert (await passengers.account_overview(uow_factory, carried)).balance == Money(
        120_000, "VND"
    )
    assert (await passengers.account_overview(uow_factory, empty)).balance == Money(0, "VND")
    async with uow_factory() as uow:
        posting = await uow.ledger.get_posting(
            postings.carried_balance_id(carried, service_day(NOW))
        )
        assert {e.account: e.amount.amount for e in posting.entries} == {
            postings.COLLECTED_EARLIER: 120_000,
            ledger_accounts.wallet(carried): -120_000,
        }
        # Carried again (a load retried after its commit): the same posting, recorded once.
        again = postings.carried_balance(carried, service_day(NOW), Money(120_000, "VND"), NOW)
        assert not (await uow.ledger.post(again)).created
        assert await uow.ledger.balance(ledger_accounts.wallet(carried)) == Money(120_000, "VND")
        report = await uow.ledger.check_invariants()
        assert report.ok, report
        assert await uow.payments.attempts(carried) == []  # nothing went through a gateway
        with pytest.raises(UnknownAccount):  # no gateway clearing account was touched
            await uow.ledger.balance(ledger_accounts.gateway_clearing("stripe"))


async def test_credentials_fetched_for_many_accounts_at_once_are_each_ones_first(
    uow_factory: UnitOfWorkFactory, keys: KeyMaterial
) -> None:
    """`fetch_credentials`: each account's first credential, recorded and accepted at a gate,
    in one transaction; an account already holding one refuses the whole call."""
    prepaid = await open_account(uow_factory)
    postpaid = await open_account(uow_factory, PaymentMode.POSTPAID_CARD)
    phones = await passengers.fetch_credentials(uow_factory, keys, [prepaid, postpaid], at=NOW)
    assert sorted(phones) == sorted([prepaid, postpaid])
    assert phones[postpaid].credential.flags & CredentialFlags.POSTPAID
    deny = await deny_list_snapshot(uow_factory)
    assert all(accepted(keys, phone, deny, NOW) for phone in phones.values())
    for account_id, phone in phones.items():
        overview = await passengers.account_overview(uow_factory, account_id)
        assert overview.live_credentials == 1
        async with uow_factory() as uow:
            held = await uow.riders.credentials_for(account_id)
        assert [c.credential_id for c in held] == [phone.credential.credential_id]
    third = await open_account(uow_factory)
    with pytest.raises(PassOnAnotherPhone):
        await passengers.fetch_credentials(uow_factory, keys, [third, prepaid], at=NOW)
    async with uow_factory() as uow:
        assert await uow.riders.credentials_for(third) == []  # nothing of the refused call
