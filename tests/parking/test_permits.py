"""Monthly permits (SQLite and PostgreSQL): sold by the rules of `parking.permits`, paid from
a wallet to the lot operator (counted by settlement as the operator's parking revenue), and
honoured at the barrier: a permit holder enters a full lot (within the reserved spaces) and
leaves paying nothing; an expired permit pays the tariff."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.errors import InvalidPlate, PermitError, UnknownLot
from parking.occupancy import Occupancy
from parking.permit import parse_month
from parking.permits import account_permits, lot_permits, sell_permit
from parking.records import BarrierEvent
from parking.services import barrier_configuration, ingest_barrier_batch, sessions_of
from parking.sessions import Lot
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.barrier import Charge, OfflineBarrier
from tests.helpers.parking import TESTS, lot_config, open_lot
from tests.helpers.redis import LOCAL_REDIS
from tests.wallets import open_funded_wallets
from ticketing.audit import AuditQuery, TargetKind
from ticketing.errors import UnknownRecord
from ticketing.ledger import accounts
from ticketing.ledger.errors import InsufficientFunds
from ticketing.riders import CredentialRecord
from ticketing.services.audit import read_audit

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 11, 20, 9, tzinfo=HANOI)
NOVEMBER, DECEMBER = date(2026, 11, 1), date(2026, 12, 1)
PRICE = 3_000_000


@pytest.fixture
def uows(engine: AsyncEngine) -> ParkingUnitOfWorkFactory:
    return ParkingUnitOfWorkFactory(engine, lambda: NOW)


async def riders(uows: ParkingUnitOfWorkFactory, **wallets: int) -> None:
    async with uows() as uow:
        for name, amount in wallets.items():
            await open_funded_wallets(uow, [name], amount)
            await uow.riders.issue_credential(
                CredentialRecord(
                    len(name) * 1000 + sum(map(ord, name)), name, NOW - timedelta(days=1),
                    NOW + timedelta(days=60), NOW - timedelta(days=1),
                )
            )  # fmt: skip
        await uow.commit()


def credential_of(name: str) -> int:
    return len(name) * 1000 + sum(map(ord, name))


async def balances(uows: ParkingUnitOfWorkFactory, *codes: str) -> list[int]:
    async with uows() as uow:
        states = await uow.ledger.accounts(list(codes))
    return [states[code].balance if code in states else 0 for code in codes]


async def test_a_permit_is_paid_from_the_wallet_to_the_operator_once(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    await open_lot(uows, lot_config("street", reserved=2, permit_price=PRICE))
    await riders(uows, anh=5_000_000)
    sold = await sell_permit(
        uows, "street", DECEMBER, by=TESTS, plate="30A-123.45", account_id="anh"
    )
    again = await sell_permit(  # a retry: the same permit, charged once
        uows, "street", DECEMBER, by=TESTS, plate="30a 12345", account_id="anh"
    )
    assert again == sold
    assert sold.permit_id == "street:2026-12:plate-30A12345"
    assert (sold.valid_from, sold.valid_until) == (
        datetime(2026, 12, 1, tzinfo=HANOI),
        datetime(2027, 1, 1, tzinfo=HANOI),
    )
    assert sold.posting_id == "parking-permit:street:2026-12:plate-30A12345"
    wallet, payable = accounts.wallet("anh"), accounts.operator("iparking-hanoi")
    # Credit balances are negative: the wallet holds 2,000,000, the operator is owed 3,000,000.
    assert await balances(uows, wallet, payable) == [-(5_000_000 - PRICE), -PRICE]
    # This month's, to the phone's credential, paid at the counter: nothing posted.
    counter = await sell_permit(
        uows, "street", NOVEMBER, by=TESTS, credential_id=credential_of("anh"), at_counter=True
    )
    assert (counter.posting_id, counter.account_id, counter.plate) == (None, None, None)
    assert [p.permit_id for p in await lot_permits(uows, "street")] == [
        counter.permit_id,
        sold.permit_id,
    ]
    assert [p.permit_id for p in await account_permits(uows, "anh")] == [sold.permit_id]
    page = await read_audit(uows, AuditQuery(target_kind=TargetKind.PERMIT))
    assert sorted(e.target.id for e in page.entries) == sorted([sold.permit_id, counter.permit_id])


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"month": date(2026, 10, 1)}, PermitError, "2026-10 is over"),
        ({"month": date(2027, 12, 1)}, PermitError, "at most 12 months ahead"),
        ({"plate": None}, PermitError, "a plate or for a credential: give exactly one"),
        ({"credential_id": 5}, PermitError, "give exactly one"),
        ({"plate": "30"}, InvalidPlate, "is not a plate"),
        ({"plate": "30A-123.45" * 3}, InvalidPlate, "is not a plate"),
        ({"at_counter": True}, PermitError, "from an account or at the counter"),
        ({"account_id": None}, PermitError, "from an account or at the counter"),
        ({"lot": "mall"}, PermitError, "lot mall sells no permits"),
        ({"lot": "nowhere"}, UnknownLot, "no parking lot"),
        ({"account_id": "ghost"}, UnknownRecord, "ghost"),
        ({"account_id": "poor"}, InsufficientFunds, "poor"),
        (
            {"plate": None, "credential_id": 9999999},
            UnknownRecord,
            "no credential",
        ),
    ],
)
async def test_a_permit_that_cannot_be_sold_is_refused_and_nothing_is_posted(
    uows: ParkingUnitOfWorkFactory,
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    await open_lot(uows, lot_config("street", reserved=2, permit_price=PRICE))
    await open_lot(uows, lot_config("mall"))
    await riders(uows, anh=5_000_000, poor=100_000)
    args: dict[str, object] = {"plate": "30A-123.45", "account_id": "anh", **kwargs}
    lot = str(args.pop("lot", "street"))
    month = args.pop("month", DECEMBER)
    assert isinstance(month, date)
    with pytest.raises(error, match=message):
        await sell_permit(uows, lot, month, by=TESTS, **args)  # type: ignore[arg-type]
    assert await lot_permits(uows, "street") == []
    assert await balances(uows, accounts.operator("iparking-hanoi")) == [0]


async def test_a_credential_is_sold_to_its_own_account_only_and_reserved_spaces_sell_out(
    uows: ParkingUnitOfWorkFactory,
) -> None:
    await open_lot(uows, lot_config("street", reserved=1, permit_price=PRICE))
    await riders(uows, anh=5_000_000, binh=5_000_000)
    with pytest.raises(PermitError, match=f"credential {credential_of('binh')} is not"):
        await sell_permit(
            uows, "street", DECEMBER, by=TESTS, credential_id=credential_of("binh"),
            account_id="anh",
        )  # fmt: skip
    await sell_permit(uows, "street", DECEMBER, by=TESTS, plate="30A11111", account_id="anh")
    with pytest.raises(PermitError, match="1 reserved spaces and a permit for each"):
        await sell_permit(uows, "street", DECEMBER, by=TESTS, plate="30A22222", account_id="binh")
    # Another month has its own reserved spaces.
    await sell_permit(uows, "street", NOVEMBER, by=TESTS, plate="30A22222", account_id="binh")


def test_months_are_read_strictly() -> None:
    assert parse_month("2026-12") == DECEMBER
    for bad in ("2026-13", "26-12", "2026-1", "december", "2026-12-01"):
        with pytest.raises(PermitError, match="is not a month like 2026-12"):
            parse_month(bad)


@pytest.fixture
async def occupancy() -> AsyncIterator[Occupancy]:
    client = Redis.from_url(LOCAL_REDIS)
    prefix = f"faregate-test:{uuid.uuid4().hex}:"
    try:
        yield Occupancy(client, prefix=prefix)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_a_permit_holder_enters_a_full_lot_and_pays_nothing_an_expired_permit_pays(
    uows: ParkingUnitOfWorkFactory, occupancy: Occupancy, tmp_path: Path
) -> None:
    lot = await open_lot(
        uows, lot_config("street", capacity=3, reserved=1, permit_price=PRICE),
        occupancy=occupancy,
    )  # fmt: skip
    names = ["anh", "binh", "chi", "dung"]
    await riders(uows, **dict.fromkeys(names, 5_000_000))
    # Chi holds November's permit (this month); Dung held October's.
    await sell_permit(
        uows, "street", NOVEMBER, by=TESTS, credential_id=credential_of("chi"), account_id="chi"
    )
    async with uows() as uow:
        config = await barrier_configuration(uow, "street", NOW)
    keys = fixed_key_material(rotated=False)
    charges: list[Charge] = []
    barrier = OfflineBarrier(
        "street-b1", Lot(lot_id="street", tariff=config.in_force.tariff), keys.keyset,
        keys.secure_module(), tmp_path / "j.sqlite",
        collector=lambda charge: charges.append(charge), clock=lambda: NOW,
    )  # fmt: skip
    barrier.configure(config)
    phones = {
        name: issue_credential(
            keys, credential_id=credential_of(name), product="WALLET", now=NOW - timedelta(days=1)
        )
        for name in names
    }

    async def arrive(name: str, at: datetime) -> bool:
        live = await occupancy.snapshot("street")
        decision = barrier.present_entry(
            phones[name].token_at(at), at,
            room=live.free_for_anyone > 0, reserved_room=live.occupied < live.capacity,
        )  # fmt: skip
        if decision.opened:
            held = decision.session is not None and decision.session.permit_until is not None
            assert (await occupancy.enter("street", reserved_right=held)).admitted
        return decision.opened

    async def leave(name: str, at: datetime) -> int:
        decision = barrier.present_exit(phones[name].token_at(at), at)
        assert decision.opened
        assert decision.fee is not None
        await occupancy.exit("street")
        return decision.fee.amount

    assert await arrive("anh", NOW)
    assert await arrive("binh", NOW + timedelta(minutes=1))
    # Full for ordinary entries (2 of 3 taken, 1 reserved): Dung's lapsed permit is none.
    assert not await arrive("dung", NOW + timedelta(minutes=2))
    assert await arrive("chi", NOW + timedelta(minutes=3))
    assert (await occupancy.snapshot("street")).occupied == 3
    assert await leave("chi", NOW + timedelta(hours=5)) == 0
    assert await leave("anh", NOW + timedelta(hours=6)) == 25_000 + 35_000 + 45_000
    assert await arrive("dung", NOW + timedelta(hours=7))
    assert await leave("dung", NOW + timedelta(hours=8)) == 25_000
    records = barrier.journal.records()
    await ingest_barrier_batch(
        uows, "street-b1", "street", [BarrierEvent.from_journal(r) for r in records],
        occupancy=occupancy,
    )  # fmt: skip
    stays = {s.account_id: s for s in await sessions_of(uows, "street")}
    assert stays["chi"].permit_id == f"street:2026-11:credential-{credential_of('chi')}"
    assert (stays["chi"].fee, stays["chi"].hold_id, stays["chi"].posting_id) == (0, None, None)
    assert stays["dung"].permit_id is None
    assert stays["dung"].fee == 25_000
    assert [c.amount for c in charges] == [105_000, 25_000]
    assert lot.reserved == 1
