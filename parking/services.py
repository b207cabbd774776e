"""Parking's use cases: lots and their tariffs over time, barrier uploads (entries with holds,
exits with fees), receipts, occupancy (each lot's live count and free spaces, resynced from its
sessions) and the unable-to-collect report.

Money, per account's payment mode (the account is the one the entry credential belongs to):

- **prepaid wallet**: at entry a hold of the lot's `hold_amount` (or what the wallet can still
  spend, if less) reserves money for the lot's operator, so it cannot go on the metro while
  the car is parked. At exit the hold is captured with the fee (at most the held amount) and
  the rest released; a fee above the hold is taken from the wallet as far as its floor allows
  and what is left goes to the receivable, as an unable-to-collect case (insufficient funds).
- **postpaid card**: no hold; the fee goes to the receivable and joins the day's charge.
- **the barrier could not collect** (it journaled `barrier_offline`, `card_declined` or
  `insufficient_funds`): the barrier's word is final. The hold is released, the whole fee goes
  to the receivable (debt the daily charge collects; a declined daily charge then denies the
  account past its debt limit, as for fares) and an unable-to-collect case records it.
- **no account** (a lost credential without a plate match): nothing can be posted; a fee the
  barrier could not collect becomes a case without a debt posting, for the operator to follow
  up by plate.

Every fee credits the lot operator's payable, `operator:{operator}`; all postings are built in
`ticketing.postings`. A barrier upload is applied in one transaction, in sequence order, after
locking the barrier's position; records at or below the position were applied before and are
skipped (a repeated or overlapping upload is a no-op and says so).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from parking.barrier_config import BarrierConfiguration, SyncedTariff
from parking.errors import (
    BarrierUploadError,
    LotError,
    LotsFileError,
    OccupancyError,
    TariffError,
)
from parking.occupancy import LotOccupancy, Occupancy
from parking.occupancy_history import BucketCounts
from parking.permit import Permit
from parking.record_checks import check_exit, check_records, most_any_tariff_charges, stay_fee
from parking.records import (
    BarrierEvent,
    CaseRecord,
    EventKind,
    LotConfig,
    LotKind,
    Receipt,
    SessionRecord,
    check_lot,
    coordinate,
)
from parking.sessions import CollectFailure, SessionState, normalise_plate
from parking.tariff import Tariff
from parking.tariff_files import load_tariff, resolve_tariff
from parking.tariff_versions import TariffVersion, in_force, pricing_window
from parking.unit_of_work import ParkingUnitOfWork, ParkingUnitOfWorkFactory
from ticketing import postings
from ticketing.devices import DevicePolicy, Places
from ticketing.errors import UnknownRecord
from ticketing.fares.feed import FareFeed
from ticketing.ledger import accounts
from ticketing.ledger.errors import InsufficientFunds
from ticketing.ledger.holds import HoldStatus
from ticketing.money import Money
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.devices import (
    DEFAULT_POLICY,
    DeviceConfiguration,
    configuration_of,
    get_device,
    places_of,
)
from ticketing.unit_of_work import run_in_uow

# --- lots -----------------------------------------------------------------------------------

_LOT_KEYS = {
    "id", "name", "operator", "capacity", "reserved", "tariff", "passback", "hold", "kind",
    "latitude", "longitude", "address", "permit_price", "source",
}  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenedLot:
    """A lot of a lots file: its configuration, its tariff document (and that parsed) and
    where its coordinates come from (`source`)."""

    config: LotConfig
    tariff: Tariff
    document: str
    source: str | None = None


def load_lots(path: Path) -> list[OpenedLot]:
    """Read a lots file (TOML `[[lots]]` tables); every field checked, errors name it.

    Fields: `id`, `name`, `operator`, `capacity`, `reserved` (default 0), `tariff` (a
    shipped tariff's name or a path relative to the file), `passback` (`hard`/`soft`,
    default `hard`), `hold` (minor units held on a prepaid wallet at entry, default 0),
    `kind` (`parking.records.LotKind`, default `car-park`), `latitude` and `longitude`
    (WGS 84 degrees), `address`, `permit_price` (a month's permit, default 0: none sold) and
    `source` (where the coordinates come from)."""
    source = path.name
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise LotsFileError(source, "", f"cannot read: {error}") from None
    except tomllib.TOMLDecodeError as error:
        raise LotsFileError(source, "", f"not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"lots"})
    if unknown:
        raise LotsFileError(source, unknown[0], "unknown field")
    raw = document.get("lots")
    if not isinstance(raw, list) or not raw:
        raise LotsFileError(source, "lots", "must be a non-empty array of tables")
    lots: list[OpenedLot] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"lots[{index}]"
        if not isinstance(entry, dict):
            raise LotsFileError(source, where, "must be a table")
        lot = _lot_entry(source, where, entry, path.parent)
        if lot.config.lot_id in seen:
            raise LotsFileError(source, f"{where}.id", f"duplicate lot {lot.config.lot_id!r}")
        seen.add(lot.config.lot_id)
        lots.append(lot)
    return lots


_FILE_KEYS = {"lot_id": "id", "hold_amount": "hold"}  # LotError's field -> the file's key


def _lot_entry(source: str, where: str, entry: dict[str, object], base: Path) -> OpenedLot:
    unknown = sorted(set(entry) - _LOT_KEYS)
    if unknown:
        raise LotsFileError(source, f"{where}.{unknown[0]}", "unknown field")

    def text(key: str, default: str | None = None) -> str:
        value = entry.get(key, default)
        if not isinstance(value, str) or not value.strip():
            raise LotsFileError(source, f"{where}.{key}", "must be a non-empty string")
        return value

    def count(key: str, default: int | None = None) -> int:
        value = entry.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise LotsFileError(source, f"{where}.{key}", "must be an integer")
        return value

    def degrees(key: str) -> Decimal | None:
        value = entry.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise LotsFileError(source, f"{where}.{key}", "must be a number of degrees")
        return coordinate(value)

    tariff_name = text("tariff")
    relative = base / tariff_name
    try:
        tariff_file = relative if relative.is_file() else resolve_tariff(tariff_name)
        tariff = load_tariff(tariff_file)
        tariff_document = tariff_file.read_text(encoding="utf-8")
    except (TariffError, OSError) as error:
        raise LotsFileError(source, f"{where}.tariff", str(error)) from None
    kind = text("kind", LotKind.CAR_PARK.value)
    if kind not in {k.value for k in LotKind}:
        kinds = ", ".join(k.value for k in LotKind)
        raise LotsFileError(source, f"{where}.kind", f"must be one of {kinds}")
    passback = text("passback", "hard")
    config = LotConfig(
        lot_id=text("id"),
        name=text("name"),
        operator=text("operator"),
        capacity=count("capacity"),
        reserved=count("reserved", 0),
        passback="soft" if passback == "soft" else "hard",
        hold_amount=count("hold", 0),
        currency=tariff.currency,
        kind=LotKind(kind),
        latitude=degrees("latitude"),
        longitude=degrees("longitude"),
        address=text("address") if "address" in entry else None,
        permit_price=count("permit_price", 0),
    )
    if passback not in ("hard", "soft"):
        raise LotsFileError(source, f"{where}.passback", "must be 'hard' or 'soft'")
    try:
        check_lot(config)
    except LotError as error:
        key = _FILE_KEYS.get(error.field, error.field)
        raise LotsFileError(source, f"{where}.{key}", error.reason) from None
    return OpenedLot(
        config=config,
        tariff=tariff,
        document=tariff_document,
        source=text("source") if "source" in entry else None,
    )


def lot_snapshot(lot: LotConfig) -> dict[str, object]:
    """A lot's configuration as JSON values (the audit log's before and after)."""
    return {
        "name": lot.name,
        "operator": lot.operator,
        "capacity": lot.capacity,
        "reserved": lot.reserved,
        "passback": lot.passback,
        "hold": lot.hold_amount,
        "currency": lot.currency,
        "kind": lot.kind.value,
        "latitude": None if lot.latitude is None else str(lot.latitude),
        "longitude": None if lot.longitude is None else str(lot.longitude),
        "address": lot.address,
        "permit_price": lot.permit_price,
    }


async def tariff_for_entry(
    uow: ParkingUnitOfWork, lot_id: str, entry_at: datetime
) -> TariffVersion:
    """The version of the lot's tariff that prices a stay entered at `entry_at`, in `uow`'s
    transaction: the one in force at the entry prices the whole stay, even one that spans a
    change (`parking.tariff_versions`). `.tariff` prices, `.digest` names it. UnknownLot for a
    lot not on record, NoTariff for a lot with no tariff scheduled."""
    await uow.parking.get_lot(lot_id)
    return in_force(await uow.parking.tariff_versions(lot_id), entry_at)


# --- barrier uploads ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class BarrierUploadResult:
    """What one upload did. `applied + duplicate == received`; `last_seq` is the highest seq
    now applied for the device (the barrier's acknowledgement)."""

    device_id: str
    lot_id: str
    received: int
    applied: int
    duplicate: int
    last_seq: int
    entries: int = 0
    exits: int = 0
    cases: int = 0
    occupancy: LotOccupancy | None = None

    @property
    def no_op(self) -> bool:
        return self.applied == 0


async def ingest_barrier_batch(
    uows: ParkingUnitOfWorkFactory,
    device_id: str,
    lot_id: str,
    events: Sequence[BarrierEvent],
    *,
    occupancy: Occupancy | None = None,
    enrolled_at: datetime | None = None,
) -> BarrierUploadResult:
    """Apply a barrier's journal records in sequence order, each exactly once (a record dated
    before the barrier was enrolled, `enrolled_at`, is impossible: the batch is refused).

    In one transaction: lock the barrier's position, skip what was applied before, apply the
    rest (entries open sessions with holds; exits close them and post fees or debt), move the
    position. Then, if `occupancy` is given, the lot's live count is corrected from its open
    sessions (the barrier may have been offline for hours)."""
    _check_batch(device_id, lot_id, events)
    ordered = sorted(events, key=lambda event: event.seq)

    async def use_case(uow: ParkingUnitOfWork) -> BarrierUploadResult:
        lot = await uow.parking.get_lot(lot_id)
        registered, last_seq = await uow.parking.device_position(device_id, lot_id)
        if registered != lot_id:
            raise BarrierUploadError(
                f"barrier {device_id} belongs to lot {registered}, not {lot_id}; nothing applied"
            )
        fresh = [event for event in ordered if event.seq > last_seq]
        check_records(fresh, last_seq, uow.clock(), enrolled_at)
        versions = await uow.parking.tariff_versions(lot_id)
        entries = exits = cases = 0
        history = BucketCounts()
        for event in fresh:
            if event.kind is EventKind.ENTRY:
                await _apply_entry(uow, lot, event)
                history.entry(event.at)
                entries += 1
            elif event.kind is EventKind.EXIT:
                if await uow.parking.find_session(event.session_id) is None:
                    history.entry(event.at)  # an unknown entry: the stay opens at the exit
                cases += await _apply_exit(uow, lot, event, versions)
                history.exit(event.at, (await uow.parking.get_session(event.session_id)).fee or 0)
                exits += 1
            elif event.kind is EventKind.REMOTE_OPEN and event.command_id is not None:
                await uow.parking.command_done(event.command_id, event.at, event.seq)
        await uow.parking.record_events(fresh)
        await uow.parking.add_occupancy(lot_id, history.buckets())
        new_last = max([last_seq, *(event.seq for event in fresh)])
        if fresh:
            await uow.parking.set_device_position(device_id, new_last)
        return BarrierUploadResult(
            device_id=device_id,
            lot_id=lot_id,
            received=len(events),
            applied=len(fresh),
            duplicate=len(events) - len(fresh),
            last_seq=new_last,
            entries=entries,
            exits=exits,
            cases=cases,
        )

    result = await run_in_uow(uows, use_case)
    if occupancy is not None:
        result = replace(result, occupancy=await resync_occupancy(uows, occupancy, lot_id))
    return result


def _check_batch(device_id: str, lot_id: str, events: Sequence[BarrierEvent]) -> None:
    seqs = [event.seq for event in events]
    if len(set(seqs)) != len(seqs):
        raise BarrierUploadError(f"barrier {device_id}: a seq appears twice in one upload")
    for event in events:
        if event.device_id != device_id or event.lot_id != lot_id:
            raise BarrierUploadError(
                f"record {event.seq} is of {event.device_id} at {event.lot_id}, not "
                f"{device_id} at {lot_id}; nothing applied"
            )
        if event.at.tzinfo is None or event.at.utcoffset() is None:
            raise BarrierUploadError(f"record {event.seq}: time must be timezone-aware")
        if event.kind is EventKind.EXIT and (event.fee is None or event.fee < 0):
            raise BarrierUploadError(f"record {event.seq}: an exit needs its fee (>= 0)")
        if event.kind is EventKind.ENTRY and event.credential_id is None and not event.plate:
            raise BarrierUploadError(f"record {event.seq}: an entry needs a credential or plate")
        if event.kind is EventKind.REMOTE_OPEN and not event.command_id:
            raise BarrierUploadError(f"record {event.seq}: a remote open needs its command_id")


async def _account_of(uow: ParkingUnitOfWork, credential_id: int | None) -> RiderAccount | None:
    if credential_id is None:
        return None
    try:
        credential = await uow.riders.get_credential(credential_id)
    except UnknownRecord:
        return None
    return await uow.riders.find_account(credential.account_id)


def _plate(plate: str | None) -> str | None:
    """Plates are kept as they compare (`normalise_plate`), so a search finds them however a
    barrier or a person wrote them."""
    return normalise_plate(plate) or None if plate else None


async def _permit_of(uow: ParkingUnitOfWork, lot: LotConfig, event: BarrierEvent) -> Permit | None:
    """The permit the barrier admitted the entry on, if it is one: of this lot, covering the
    entry, held by its credential or plate (a claim that is not is an ordinary entry)."""
    if event.permit_id is None:
        return None
    permit = await uow.parking.find_permit(event.permit_id)
    if (
        permit is None
        or permit.lot_id != lot.lot_id
        or not permit.covers(event.at)
        or not permit.held_by(event.credential_id, event.plate)
    ):
        return None
    return permit


async def _apply_entry(uow: ParkingUnitOfWork, lot: LotConfig, event: BarrierEvent) -> None:
    account = await _account_of(uow, event.credential_id)
    permit = await _permit_of(uow, lot, event)
    session_id = event.session_id
    hold_id = None
    if (
        permit is None
        and account is not None
        and account.payment_mode is PaymentMode.PREPAID_WALLET
        and account.currency == lot.currency
        and lot.hold_amount > 0
    ):
        wallet = accounts.wallet(account.id)
        states = await uow.ledger.accounts([wallet])
        available = states[wallet].available if wallet in states else 0
        amount = min(lot.hold_amount, available)
        if amount > 0:
            hold = await uow.ledger.hold(
                postings.parking_hold_id(session_id),
                debit=wallet,
                credit=accounts.operator(lot.operator),
                amount=Money(amount, lot.currency),
                at=event.at,
                description=f"parking at {lot.lot_id} ({session_id})",
            )
            hold_id = hold.id
    await uow.parking.add_session(
        SessionRecord(
            session_id=session_id,
            lot_id=lot.lot_id,
            device_id=event.device_id,
            entry_seq=event.seq,
            vehicle=event.vehicle or "car",
            entry_at=event.at,
            currency=lot.currency,
            credential_id=event.credential_id,
            account_id=None if account is None else account.id,
            plate=_plate(event.plate),
            passback_violation=event.passback_violation,
            hold_id=hold_id,
            permit_id=None if permit is None else permit.permit_id,
        )
    )


async def _apply_exit(
    uow: ParkingUnitOfWork, lot: LotConfig, event: BarrierEvent, versions: Sequence[TariffVersion]
) -> bool:
    """Close the session and post its fee, the backend's price of the stay (never the
    barrier's: `parking.record_checks`); True when an unable-to-collect case was made."""
    if event.currency is not None and event.currency != lot.currency:
        raise BarrierUploadError(
            f"record {event.seq}: fee in {event.currency}, lot {lot.lot_id} charges {lot.currency}"
        )
    session = await uow.parking.find_session(event.session_id)
    entry_at = None if session is None or session.lost_credential else session.entry_at
    vehicle = event.vehicle or "car" if session is None else session.vehicle
    check_exit(
        event, entry_at,
        most_any_tariff_charges(versions, vehicle=vehicle, entry_at=entry_at, exit_at=event.at),
    )  # fmt: skip
    permit = None
    if session is not None and session.permit_id is not None:
        permit = await uow.parking.find_permit(session.permit_id)
    fee = stay_fee(
        versions, vehicle=vehicle, entry_at=entry_at, exit_at=event.at,
        permit_until=None if permit is None else permit.valid_until,
    )  # fmt: skip
    if session is None:
        # The entry is unknown (lost credential without a match, or never uploaded).
        account = await _account_of(uow, event.credential_id)
        session = SessionRecord(
            session_id=event.session_id,
            lot_id=lot.lot_id,
            device_id=event.device_id,
            entry_seq=None,
            vehicle=event.vehicle or "car",
            entry_at=event.at,
            currency=lot.currency,
            credential_id=event.credential_id,
            account_id=None if account is None else account.id,
            plate=_plate(event.plate),
            lost_credential=True,
        )
        await uow.parking.add_session(session)
    elif session.status is not SessionState.OPEN:
        raise BarrierUploadError(
            f"record {event.seq}: session {session.session_id} is already {session.status}"
        )
    failure = _failure(event.failure)
    account = (
        None if session.account_id is None else await uow.riders.find_account(session.account_id)
    )
    closing = replace(
        session,
        exit_seq=event.seq,
        exit_at=event.at,
        fee=fee,
        tariff_id=event.tariff_id,
        lost_credential=session.lost_credential or event.lost_credential,
    )
    state = SessionState(event.reason) if event.reason in _CLOSED else SessionState.CLOSED
    collect = _Collect(uow, lot, closing, event.at)
    if fee == 0:
        await collect.release_hold()
        collected, case = 0, None
    elif account is None:
        collected, case = await collect.without_account(event, failure)
    elif failure is not None:
        collected, case = await collect.as_debt(account, failure.value)
    else:
        collected, case = await collect.from_account(account)
    if case is not None:
        state = SessionState.UNABLE_TO_COLLECT
        await uow.parking.add_case(case)
    receipt_no = None
    if fee > 0 and case is None:
        receipt_no = f"R-{session.session_id}"
    await uow.parking.save_session(
        replace(
            closing,
            status=state,
            collected=collected,
            posting_id=collect.posting_id,
            receipt_no=receipt_no,
        )
    )
    return case is not None


_CLOSED = {SessionState.CLOSED.value, SessionState.PASSBACK_CLOSED.value}


def _failure(text: str | None) -> CollectFailure | None:
    if text is None:
        return None
    try:
        return CollectFailure(text)
    except ValueError:
        raise BarrierUploadError(f"unknown collection failure {text!r}") from None


class _Collect:
    """Taking one session's fee: from the hold, the wallet, the receivable."""

    def __init__(
        self, uow: ParkingUnitOfWork, lot: LotConfig, session: SessionRecord, at: datetime
    ) -> None:
        self.uow = uow
        self.lot = lot
        self.session = session
        self.at = at
        self.fee = session.fee or 0
        self.posting_id: str | None = None

    async def release_hold(self) -> None:
        hold_id = self.session.hold_id
        if hold_id is not None:
            hold = await self.uow.ledger.get_hold(hold_id)
            if hold.status is HoldStatus.PENDING:
                await self.uow.ledger.void_hold(hold_id, at=self.at)

    def _case(self, amount: int, reason: str, posting_id: str | None) -> CaseRecord:
        return CaseRecord(
            session_id=self.session.session_id,
            lot_id=self.lot.lot_id,
            account_id=self.session.account_id,
            credential_id=self.session.credential_id,
            plate=self.session.plate,
            amount=amount,
            currency=self.lot.currency,
            reason=reason,
            at=self.at,
            debt_posting_id=posting_id,
        )

    async def _post(self, posting_id: str, payers: list[tuple[str, int]]) -> None:
        await self.uow.ledger.post(
            postings.parking_fee(
                posting_id,
                operator_id=self.lot.operator,
                payers=payers,
                currency=self.lot.currency,
                session_id=self.session.session_id,
                lot_id=self.lot.lot_id,
                at=self.at,
            )
        )

    async def without_account(
        self, event: BarrierEvent, failure: CollectFailure | None
    ) -> tuple[int, CaseRecord | None]:
        await self.release_hold()
        if failure is None:
            # Taken at the lane outside Faregate's accounts (e.g. a card at the exit): what
            # the stay costs at most, whatever the barrier says it took.
            return min(event.collected or self.fee, self.fee), None
        return 0, self._case(self.fee, failure.value, None)

    async def as_debt(self, account: RiderAccount, reason: str) -> tuple[int, CaseRecord]:
        await self.release_hold()
        posting_id = postings.parking_fee_id(self.session.session_id, "debt")
        await self._post(posting_id, [(accounts.receivable(account.id), self.fee)])
        self.posting_id = posting_id
        return 0, self._case(self.fee, reason, posting_id)

    async def from_account(self, account: RiderAccount) -> tuple[int, CaseRecord | None]:
        if account.payment_mode is PaymentMode.POSTPAID_CARD:
            posting_id = postings.parking_fee_id(self.session.session_id)
            await self._post(posting_id, [(accounts.receivable(account.id), self.fee)])
            self.posting_id = posting_id
            return self.fee, None
        captured = 0
        hold_id = self.session.hold_id
        if hold_id is not None:
            hold = await self.uow.ledger.get_hold(hold_id)
            captured = min(self.fee, hold.amount.amount)
            await self.uow.ledger.capture_hold(
                hold_id, Money(captured, self.lot.currency), at=self.at
            )
            self.posting_id = postings.hold_capture_id(hold_id)
        rest = self.fee - captured
        if rest == 0:
            return self.fee, None
        wallet = accounts.wallet(account.id)
        states = await self.uow.ledger.accounts([wallet])
        headroom = max(states[wallet].available, 0) if wallet in states else 0
        payers = postings.fare_payers(account, rest, headroom)
        posting_id = postings.parking_fee_id(self.session.session_id, "rest")
        try:
            await self._post(posting_id, payers)
        except InsufficientFunds:  # the headroom moved under us: all of it is debt
            payers = [(accounts.receivable(account.id), rest)]
            await self._post(posting_id, payers)
        self.posting_id = self.posting_id or posting_id
        owed = sum(amount for code, amount in payers if code == accounts.receivable(account.id))
        if owed == 0:
            return self.fee, None
        return self.fee - owed, self._case(
            owed, CollectFailure.INSUFFICIENT_FUNDS.value, posting_id
        )


# --- occupancy, receipts, reports -----------------------------------------------------------


async def resync_occupancy(
    uows: ParkingUnitOfWorkFactory, occupancy: Occupancy, lot_id: str
) -> LotOccupancy:
    """Set the lot's live count to its open sessions (the sessions are the truth)."""
    async with uows() as uow:
        lot = await uow.parking.get_lot(lot_id)
        open_now = await uow.parking.count_open(lot_id)
    await occupancy.configure(lot_id, capacity=lot.capacity, reserved=lot.reserved)
    return await occupancy.correct(lot_id, open_now)


@dataclass(frozen=True, slots=True, kw_only=True)
class LotStatus:
    """A lot as configured and how full it is, as its barriers count it."""

    lot: LotConfig
    lot_id: str
    name: str
    operator: str
    capacity: int
    reserved: int  # kept for holders of a reserved right (season tickets, disabled badges)
    occupied: int  # vehicles inside: the live count the barriers admit against
    free: int  # spaces an ordinary entry may still take (`LotOccupancy.free_for_anyone`)
    updated_at: datetime  # when read


async def lot_statuses(uows: ParkingUnitOfWorkFactory, occupancy: Occupancy) -> list[LotStatus]:
    """Every configured lot, by name, with its live occupancy (the operator API, the operator
    page, the open-data feed and the demo all show these: the one definition of free spaces).
    A lot whose count is not in Redis (a new Redis, a flushed one) is resynced from its open
    sessions first, so the answer is never a guess; one whose capacity or reserved spaces
    changed since Redis was told (a lot edited at the command line) is told again."""
    async with uows() as uow:
        lots = await uow.parking.lots()
    found = []
    for lot in sorted(lots, key=lambda lot: (lot.name, lot.lot_id)):
        try:
            live = await occupancy.snapshot(lot.lot_id)
        except OccupancyError:  # not in Redis (yet, or any more): count the sessions
            live = await resync_occupancy(uows, occupancy, lot.lot_id)
        if (live.capacity, live.reserved) != (lot.capacity, lot.reserved):
            await occupancy.configure(lot.lot_id, capacity=lot.capacity, reserved=lot.reserved)
            live = await occupancy.snapshot(lot.lot_id)
        found.append(
            LotStatus(
                lot=lot,
                lot_id=lot.lot_id,
                name=lot.name,
                operator=lot.operator,
                capacity=live.capacity,
                reserved=live.reserved,
                occupied=live.occupied,
                free=live.free_for_anyone,
                updated_at=uows.clock(),
            )
        )
    return found


async def receipt(uows: ParkingUnitOfWorkFactory, session_id: str) -> Receipt | None:
    """The receipt of a paid session (None: nothing was paid, or not yet)."""
    async with uows() as uow:
        session = await uow.parking.get_session(session_id)
        lot = await uow.parking.get_lot(session.lot_id)
    return _receipt(lot, session)


async def receipts(uows: ParkingUnitOfWorkFactory, lot_id: str | None = None) -> list[Receipt]:
    """Every paid session's receipt (of one lot, or all), in entry order."""
    async with uows() as uow:
        lots = {lot.lot_id: lot for lot in await uow.parking.lots()}
        sessions = await uow.parking.sessions(lot_id)
    return [r for s in sessions if (r := _receipt(lots[s.lot_id], s)) is not None]


def _receipt(lot: LotConfig, session: SessionRecord) -> Receipt | None:
    """The session's receipt, or None if it has none (nothing paid, or not yet)."""
    if session.receipt_no is None or session.exit_at is None:
        return None
    return Receipt(
        receipt_no=session.receipt_no,
        session_id=session.session_id,
        lot_id=lot.lot_id,
        lot_name=lot.name,
        operator=lot.operator,
        vehicle=session.vehicle,
        plate=session.plate,
        entry_at=session.entry_at,
        exit_at=session.exit_at,
        amount=session.fee or 0,
        currency=session.currency,
        account_id=session.account_id,
        posting_id=session.posting_id,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class UnableToCollectReport:
    cases: tuple[CaseRecord, ...]
    totals: dict[str, int]  # per currency
    by_reason: dict[str, int]  # number of cases

    @property
    def count(self) -> int:
        return len(self.cases)


async def unable_to_collect_report(
    uows: ParkingUnitOfWorkFactory,
    lot_id: str | None = None,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> UnableToCollectReport:
    """The cars that left without paying, for follow-up: each case, totals per currency."""
    async with uows() as uow:
        cases = await uow.parking.cases(lot_id, since=since, until=until)
    totals: dict[str, int] = {}
    by_reason: dict[str, int] = {}
    for case in cases:
        totals[case.currency] = totals.get(case.currency, 0) + case.amount
        by_reason[case.reason] = by_reason.get(case.reason, 0) + 1
    return UnableToCollectReport(cases=tuple(cases), totals=totals, by_reason=by_reason)


@dataclass(frozen=True, slots=True, kw_only=True)
class UncollectedStay:
    """An unable-to-collect case with the stay it ended: where and from when."""

    case: CaseRecord
    lot_name: str
    entered_at: datetime


async def newest_uncollected(
    uows: ParkingUnitOfWorkFactory, *, limit: int
) -> list[UncollectedStay]:
    """The `limit` newest unable-to-collect cases, newest first, with their stays."""
    async with uows() as uow:
        cases = sorted(await uow.parking.cases(), key=lambda c: c.at, reverse=True)[:limit]
        names = {lot.lot_id: lot.name for lot in await uow.parking.lots()}
        return [
            UncollectedStay(
                case=case,
                lot_name=names.get(case.lot_id, case.lot_id),
                entered_at=(await uow.parking.get_session(case.session_id)).entry_at,
            )
            for case in cases
        ]


async def sessions_of(
    uows: ParkingUnitOfWorkFactory, lot_id: str | None = None
) -> list[SessionRecord]:
    async with uows() as uow:
        return await uow.parking.sessions(lot_id)


# --- barrier configuration ------------------------------------------------------------------


async def barrier_configuration(
    uow: ParkingUnitOfWork, lot_id: str, at: datetime, *, device_id: str | None = None
) -> BarrierConfiguration:
    """What the lot's barriers are told when they sync at `at` (the device API's barrier
    configuration, in the caller's unit of work): the lot's capacity, reserved spaces,
    anti-passback and currency, and every tariff version it may need to price offline: the
    one in force when the lot's oldest open stay entered (or at `at`), those since, and those
    scheduled, so a barrier has a new version before it comes into force; the lot's permits
    that have not ended; and, for the barrier `device_id`, the remote opens asked of it and not
    yet done (sent on every sync until its journal says it did them). UnknownLot, NoTariff."""
    lot = await uow.parking.get_lot(lot_id)
    versions = await uow.parking.tariff_versions(lot_id)
    oldest = await uow.parking.oldest_open_entry(lot_id)
    since = at if oldest is None else min(oldest, at)
    return BarrierConfiguration(
        lot=lot,
        as_of=at,
        tariffs=tuple(SyncedTariff.of(v) for v in pricing_window(versions, since)),
        permits=tuple(await uow.parking.permits(lot_id, valid_after=at)),
        commands=()
        if device_id is None
        else tuple(await uow.parking.commands(lot_id=lot_id, device_id=device_id, pending=True)),
    )


# --- devices --------------------------------------------------------------------------------


async def device_places(uows: ParkingUnitOfWorkFactory, feed: FareFeed) -> Places:
    """Where a device may be bound: the fare feed's stops and routes, and the lots."""
    async with uows() as uow:
        lots = await uow.parking.lots()
    return places_of(feed, {lot.lot_id for lot in lots})


async def device_configuration(
    uows: ParkingUnitOfWorkFactory,
    device_id: str,
    *,
    feed: FareFeed,
    policy: DevicePolicy = DEFAULT_POLICY,
) -> DeviceConfiguration:
    """The configuration a device downloads (`GET /device/v1/config`): its binding and place,
    `policy`, and for a barrier its lot, tariff versions, permits and its own remote opens as
    `barrier_configuration` reads them now. UnknownDevice; a barrier's lot gone: UnknownLot."""
    device = await get_device(uows, device_id)
    barrier = None
    if device.binding.lot_id is not None:
        async with uows() as uow:
            found = await barrier_configuration(
                uow, device.binding.lot_id, uow.clock(), device_id=device_id
            )
        barrier = found.as_json()
    return configuration_of(device, feed, policy, barrier=barrier)
