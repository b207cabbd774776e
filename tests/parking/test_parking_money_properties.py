"""Hypothesis: whatever the wallets hold, the lot holds and the stays cost, parking keeps the
ledger balanced, never takes a wallet below its floor, releases every hold, credits the
operator with every fee, and puts exactly what was not taken on the receivable as cases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from parking.records import BarrierEvent, EventKind, LotConfig
from parking.services import ingest_barrier_batch, unable_to_collect_report
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.parking import open_lot
from ticketing.db.engine import create_engine
from ticketing.ledger import accounts
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders

T0 = datetime.fromisoformat("2026-11-30T08:00+07:00")
# The server's clock, stopped after every record: the backend refuses records over 90 days
# old, so a real clock would fail these fixed dates once the calendar moved on.
NOW = T0 + timedelta(days=3)
CAR = load_tariff("hanoi-car")  # the lot's tariff (tests/helpers/parking.open_lot)
FAILURES = (None, None, "barrier_offline", "card_declined")

drivers = st.lists(
    st.tuples(
        st.sampled_from([PaymentMode.PREPAID_WALLET, PaymentMode.POSTPAID_CARD]),
        st.integers(0, 200_000),  # wallet funds
        st.integers(0, 50_000),  # overdraft limit
        st.integers(1, 36 * 60),  # the stay's minutes (the backend prices it with the tariff)
        st.sampled_from(FAILURES),
    ),
    min_size=1,
    max_size=6,
)


async def _example(
    db_url: str, hold: int, cars: list[tuple[PaymentMode, int, int, int, str | None]], split: int
) -> None:
    engine = create_engine(db_url)
    original = list(cars)
    tag = uuid.uuid4().hex[:8]
    try:
        uows = ParkingUnitOfWorkFactory(engine, lambda: NOW)
        lot = LotConfig(
            lot_id=f"lot-{tag}", name="L", operator=f"op-{tag}", capacity=50, reserved=0,
            passback="hard", hold_amount=hold,
            currency="VND",
        )  # fmt: skip
        await open_lot(uows, lot)
        ids = [f"acc-{tag}-{n}" for n in range(len(cars))]
        base = int(uuid.uuid4().int % 2**40) * 100
        at = T0 - timedelta(days=1)
        await register_riders(
            uows,
            [
                Registration(
                    RiderAccount(ids[n], "adult", mode, "VND", overdraft_limit=overdraft),
                    [CredentialRecord(base + n, ids[n], at, T0 + timedelta(days=9), at)],
                )
                for n, (mode, _, overdraft, _, _) in enumerate(cars)
            ],
            at=at,
        )
        async with uows() as uow:
            for n, (mode, funds, overdraft, _, _) in enumerate(cars):
                if mode is PaymentMode.PREPAID_WALLET:
                    await uow.ledger.open_account(
                        accounts.wallet(ids[n]), "VND", overdraft_limit=overdraft
                    )
                    if funds:
                        await uow.ledger.post(
                            Posting.transfer(
                                f"topup:{ids[n]}",
                                debit=accounts.gateway_clearing("t"),
                                credit=accounts.wallet(ids[n]),
                                amount=Money(funds, "VND"),
                                occurred_at=at,
                            )
                        )
            await uow.commit()
        device = f"barrier-{tag}"
        events = [
            BarrierEvent(
                device_id=device,
                seq=n + 1,
                lot_id=lot.lot_id,
                kind=EventKind.ENTRY,
                at=T0 + timedelta(minutes=n),
                reason="ok",
                credential_id=base + n,
                vehicle="car",
            )
            for n in range(len(cars))
        ]
        # What each stay costs: the lot's tariff's price (the backend's, not the barrier's).
        cars = [
            (mode, funds, overdraft, CAR.quote("car", T0 + timedelta(minutes=n),
                                               T0 + timedelta(minutes=n + minutes)).amount, f)
            for n, (mode, funds, overdraft, minutes, f) in enumerate(cars)
        ]  # fmt: skip
        stays = {n: minutes for n, (_, _, _, minutes, _) in enumerate(original)}
        for n, (_, _, _, fee, failure) in enumerate(cars):
            events.append(
                BarrierEvent(
                    device_id=device,
                    seq=len(cars) + n + 1,
                    lot_id=lot.lot_id,
                    kind=EventKind.EXIT,
                    at=T0 + timedelta(minutes=n + stays[n]),
                    reason="unable_to_collect" if failure and fee else "closed",
                    session_seq=n + 1,
                    credential_id=base + n,
                    vehicle="car",
                    fee=fee,
                    currency="VND",
                    collected=0 if failure else fee,
                    failure=failure,
                )
            )
        cut = split % (len(events) + 1)
        for part in (events[:cut], events[cut:], events):  # the last one: all again, a no-op
            if part:
                await ingest_barrier_batch(uows, device, lot.lot_id, part)

        report = await unable_to_collect_report(uows, lot.lot_id)
        owed_by_case = {case.account_id: case.amount for case in report.cases}
        async with uows() as uow:
            assert (await uow.ledger.check_invariants()).ok
            operator = await uow.ledger.accounts([accounts.operator(lot.operator)])
            credited = sum(state.normal_balance.amount for state in operator.values())
            assert credited == sum(fee for _, _, _, fee, _ in cars)
            for n, (mode, funds, overdraft, fee, failure) in enumerate(cars):
                states = await uow.ledger.accounts(
                    [accounts.wallet(ids[n]), accounts.receivable(ids[n])]
                )
                wallet = states.get(accounts.wallet(ids[n]))
                receivable = states.get(accounts.receivable(ids[n]))
                owed = receivable.normal_balance.amount if receivable else 0
                if wallet is not None:
                    assert wallet.pending_debits == 0  # every hold resolved
                    assert wallet.available >= 0  # never below the floor
                    spent = funds - wallet.normal_balance.amount
                    assert spent + owed == fee
                    assert spent <= funds + overdraft
                else:
                    assert owed == fee
                case = owed_by_case.get(ids[n], 0)
                if mode is PaymentMode.POSTPAID_CARD and not failure:
                    assert case == 0  # joins the daily charge: not a case
                else:
                    assert case == owed  # whatever was not taken is a case, as debt
    finally:
        await engine.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(hold=st.integers(0, 150_000), cars=drivers, split=st.integers(0, 20))
def test_parking_money_keeps_the_books_and_the_floors(
    db_url: str,
    hold: int,
    cars: list[tuple[PaymentMode, int, int, int, str | None]],
    split: int,
) -> None:
    asyncio.run(_example(db_url, hold, cars, split))
