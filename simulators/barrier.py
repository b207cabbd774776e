"""An offline parking barrier (entry and exit lanes): the real verifier, a tariff, a journal.

Like `simulators.gate`, the barrier holds only public material (key set, secure module, deny
list) plus the lot's configuration as last synced (`configure`: the tariff versions, each stay
priced with the one in force at its entry, and the lot's permits), and decides alone:

- entry: the phone QR is verified (replays refused); the lot's session policy applies
  anti-passback; the caller says whether occupancy has room (`room=False` refuses);
- exit: the QR is verified, the open session found, the fee priced from the synced tariff,
  and collected through the injected `collector`; if it cannot be (offline, declined, empty
  wallet) the car still leaves and the exit is journaled as unable to collect;
- lost credential: the open session by plate, else the tariff's lost-credential price;
- permits: a permit holder (by QR or, at a plate-reading lane, by plate) is admitted while
  any space is free (the caller's `reserved_room`: the reserved spaces are theirs) and leaves
  free while the permit lasts;
- remote opens: an operator's command in the synced configuration opens the barrier once
  (journaled as `remote_open` with its reason and command id, which is how the backend learns
  it was done; the command comes again on each sync until then and is done only once).

Every event is appended to a local SQLite journal and committed before the decision is
returned; on restart the open sessions and the replay memory are rebuilt from it. `upload`
sends the records after the upload cursor, in order, to an injected uploader; the receiver
acknowledges the highest sequence number it holds for the device, and only then does the
cursor move. A batch lost on the way is sent again; a receiver that keeps (device_id, seq)
unique stores each record exactly once.

Replays are caught by one memory shared by both lanes (a screenshot of the entry code is
refused at the exit). The verifier's time-based passback is switched off: in a lot, passback
is the session rule (no second entry without an exit), not a time window.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from parking.barrier_config import BarrierConfiguration
from parking.permit import Permit
from parking.records import EventKind
from parking.sessions import (
    CollectFailure,
    ExitFee,
    Lot,
    ParkingSession,
    SessionState,
    enter,
    exit_fee,
    find_by_plate,
    leave,
    lost_credential_fee,
    unknown_entry,
)
from parking.tariff import Tariff
from qr.decision import Decision
from qr.denylist import DenyList
from qr.keys import KeySet
from qr.liveness import SecureModule
from qr.memory import GateMemory
from qr.timeutil import Clock, require_aware, utc_now
from qr.verifier import GateContext, Verifier, VerifierPolicy
from simulators.device_client import DeviceClient
from simulators.device_config import DeviceSettings
from simulators.errors import BarrierError, ConfigurationError
from simulators.journal import SqliteJournal

UPLOAD_PATH = "/device/v1/parking/journal"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    -- The rowid: max + 1, never reused because events are never deleted. (AUTOINCREMENT
    -- would also write sqlite_sequence in every commit: two WAL frames to fsync, not one.)
    seq INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    lot_id TEXT NOT NULL,
    kind TEXT NOT NULL,             -- entry | exit | refused
    at_us INTEGER NOT NULL,         -- Unix microseconds
    session_seq INTEGER,            -- exit: the seq of its entry (NULL: entry unknown)
    credential_id TEXT,             -- decimal: a 64-bit unsigned id overflows SQLite's INTEGER
    plate TEXT,
    vehicle TEXT,
    reason TEXT NOT NULL,
    step INTEGER,                   -- the TOTP step of an accepted code (replay memory)
    tariff_id TEXT,
    fee INTEGER,
    currency TEXT,
    collected INTEGER,
    failure TEXT,                   -- why the fee could not be collected
    passback_violation INTEGER NOT NULL DEFAULT 0,
    lost_credential INTEGER NOT NULL DEFAULT 0,
    permit_id TEXT,                 -- entry: the permit it was admitted on
    permit_until_us INTEGER,        -- and when that permit ends
    command_id TEXT                 -- remote_open: the operator's command it carried out
);
CREATE TABLE IF NOT EXISTS upload_cursor (
    device_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
);
"""
_COLUMNS = (
    "seq, device_id, lot_id, kind, at_us, session_seq, credential_id, plate, vehicle, reason,"
    " step, tariff_id, fee, currency, collected, failure, passback_violation, lost_credential,"
    " permit_id, permit_until_us, command_id"
)


class Refusal(StrEnum):
    """Why a barrier stays closed (besides a refused QR, journaled with the qr Reason)."""

    LOT_FULL = "lot_full"
    PASSBACK = "passback"
    NO_OPEN_SESSION = "no_open_session"
    NO_PERMIT = "no_permit"  # a plate-reading lane admits permit holders only


@dataclass(frozen=True, slots=True, kw_only=True)
class BarrierRecord:
    """One journaled event; (device_id, seq) identifies it for upload."""

    device_id: str
    seq: int
    lot_id: str
    kind: EventKind
    at: datetime
    session_seq: int | None
    credential_id: int | None
    plate: str | None
    vehicle: str | None
    reason: str
    step: int | None
    tariff_id: str | None
    fee: int | None
    currency: str | None
    collected: int | None
    failure: CollectFailure | None
    passback_violation: bool
    lost_credential: bool
    permit_id: str | None = None
    permit_until: datetime | None = None
    command_id: str | None = None

    @property
    def session_id(self) -> str:
        """The session this event belongs to: named after its entry record."""
        entry_seq = self.seq if self.kind is EventKind.ENTRY else self.session_seq
        return f"{self.device_id}:{entry_seq if entry_seq is not None else f'lost-{self.seq}'}"


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadBatch:
    device_id: str
    lot_id: str
    records: tuple[BarrierRecord, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Charge:
    """What the barrier asks the collector to take for one exit."""

    session_id: str
    lot_id: str
    credential_id: int | None
    plate: str | None
    amount: int
    currency: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BarrierDecision:
    """Open or stay closed, and why; the exit's fee and collection when it is an exit."""

    opened: bool
    kind: EventKind
    reason: str
    seq: int
    session: ParkingSession | None = None
    fee: ExitFee | None = None
    failure: CollectFailure | None = None
    qr: Decision | None = None


# The collector returns None when it took the money, else why it could not.
Collector = Callable[[Charge], CollectFailure | None]
# The uploader returns the highest seq the receiver now holds for the batch's device.
Uploader = Callable[[UploadBatch], Awaitable[int]]


def record_to_wire(record: BarrierRecord) -> dict[str, Any]:
    """A journal record as the device API takes it (docs/DEVICE-API.md, parking journal)."""
    return {
        "device_id": record.device_id,
        "seq": record.seq,
        "lot_id": record.lot_id,
        "kind": record.kind.value,
        "at": record.at.isoformat(),
        "reason": record.reason,
        "session_seq": record.session_seq,
        # a decimal string: JSON numbers above 2**53 do not survive double-based parsers
        "credential_id": None if record.credential_id is None else str(record.credential_id),
        "plate": record.plate,
        "vehicle": record.vehicle,
        "tariff_id": record.tariff_id,
        "fee": record.fee,
        "currency": record.currency,
        "collected": record.collected,
        "failure": None if record.failure is None else record.failure.value,
        "passback_violation": record.passback_violation,
        "lost_credential": record.lost_credential,
        "permit_id": record.permit_id,
        "command_id": record.command_id,
    }


def batch_to_wire(batch: UploadBatch) -> bytes:
    body = {"lot_id": batch.lot_id, "records": [record_to_wire(r) for r in batch.records]}
    return json.dumps(body, separators=(",", ":")).encode()


def http_uploader(client: DeviceClient) -> Uploader:
    """Send batches to the device API; the answer's `last_seq` is the acknowledgement."""

    async def send(batch: UploadBatch) -> int:
        response = await client.request("POST", UPLOAD_PATH, batch_to_wire(batch))
        if response.status_code != 200:
            raise BarrierError(f"upload refused: {response.status_code} {response.text}")
        return int(response.json()["last_seq"])

    return send


class BarrierJournal(SqliteJournal):
    """The barrier's durable, append-only event log and upload cursor in one SQLite file
    (`simulators.journal`: one fsynced transaction per event unless `durable=False`)."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        super().__init__(path, _SCHEMA, durable=durable)

    def append(self, record: BarrierRecord) -> int:
        """Write the event and commit; returns its sequence number (`record.seq` is ignored)."""
        return self._append(
            f"INSERT INTO events ({_COLUMNS.removeprefix('seq, ')})"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.device_id,
                record.lot_id,
                record.kind.value,
                _micros(record.at),
                record.session_seq,
                None if record.credential_id is None else str(record.credential_id),
                record.plate,
                record.vehicle,
                record.reason,
                record.step,
                record.tariff_id,
                record.fee,
                record.currency,
                record.collected,
                None if record.failure is None else record.failure.value,
                int(record.passback_violation),
                int(record.lost_credential),
                record.permit_id,
                None if record.permit_until is None else _micros(record.permit_until),
                record.command_id,
            ),
        )

    def records(self, after_seq: int = 0, limit: int | None = None) -> list[BarrierRecord]:
        """Records with a sequence number above `after_seq`, in order."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            (after_seq, -1 if limit is None else limit),
        ).fetchall()
        return [_from_row(row) for row in rows]

    def commands_done(self) -> set[str]:
        """The remote-open commands this barrier has carried out."""
        rows = self._db.execute("SELECT command_id FROM events WHERE command_id IS NOT NULL")
        return {str(command_id) for (command_id,) in rows}

    def open_entries(self) -> list[BarrierRecord]:
        """Entries with no exit yet (the barrier's open sessions)."""
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM events e WHERE kind = 'entry' AND NOT EXISTS"
            " (SELECT 1 FROM events x WHERE x.kind = 'exit' AND x.session_seq = e.seq)"
            " ORDER BY seq"
        ).fetchall()
        return [_from_row(row) for row in rows]

    def restore_memory(self, since_us: int) -> GateMemory:
        """The replay memory implied by accepted codes at or after `since_us`."""
        return self._memory(
            "SELECT device_id, at_us, credential_id, step FROM events"
            " WHERE step IS NOT NULL AND at_us >= ? ORDER BY seq",
            since_us,
            per_second=1e6,
        )

    def cursor(self, device_id: str) -> int:
        row = self._db.execute(
            "SELECT seq FROM upload_cursor WHERE device_id = ?", (device_id,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def advance_cursor(self, device_id: str, seq: int) -> None:
        with self._db:
            self._db.execute(
                "INSERT INTO upload_cursor (device_id, seq) VALUES (?, ?)"
                " ON CONFLICT (device_id) DO UPDATE SET seq = excluded.seq",
                (device_id, seq),
            )


class OfflineBarrier:
    """A lot's barrier deciding offline; every decision journaled before it is returned."""

    def __init__(
        self,
        device_id: str,
        lot: Lot,
        keyset: KeySet,
        secure_module: SecureModule,
        journal_path: Path,
        *,
        deny_list: DenyList | None = None,
        policy: VerifierPolicy | None = None,
        accepted_products: frozenset[str] | None = None,
        collector: Collector | None = None,
        clock: Clock = utc_now,
        durable_journal: bool = True,
    ) -> None:
        self.device_id = device_id
        self.lot = lot
        self.config: BarrierConfiguration | None = None
        self.context = GateContext(device_id, accepted_products)
        self._keyset = keyset
        self._module = secure_module
        policy = replace(policy or VerifierPolicy(), passback_seconds=0.0)
        self.verifier = Verifier(keyset, secure_module, policy, deny_list)
        self.collector = collector
        self.online = collector is not None
        self.clock = clock
        self.journal = BarrierJournal(journal_path, durable=durable_journal)
        now = require_aware(clock(), "barrier clock")
        keep_us = int(self.verifier.keep_seconds() * 1e6)
        self.memory = self.journal.restore_memory(since_us=_micros(now) - keep_us)
        self._open: dict[str, ParkingSession] = {}
        for record in self.journal.open_entries():
            session = self._session_of(record)
            self._open[session.session_id] = session

    # -- configuration ---------------------------------------------------------------------

    def configure(self, config: BarrierConfiguration) -> list[BarrierDecision]:
        """Take the lot's configuration from a sync (`parking.barrier_config`): its tariff
        versions (a stay is priced with the one in force at its entry, so versions scheduled
        ahead apply on time even offline), its permits and its anti-passback mode; then carry
        out the remote opens it holds for this barrier that it has not done yet (each opens
        the barrier once and is journaled), returning those decisions."""
        if config.lot.lot_id != self.lot.lot_id:
            raise BarrierError(f"configuration of lot {config.lot.lot_id}, not {self.lot.lot_id}")
        self.config = config
        self.lot = replace(self.lot, tariff=config.in_force.tariff, passback=config.lot.passback)
        done = self.journal.commands_done()
        opened = []
        for command in config.commands:
            if command.device_id != self.device_id or command.command_id in done:
                continue
            when = self.clock()
            seq = self.journal.append(
                self._record(
                    EventKind.REMOTE_OPEN, when, reason=command.reason[:64],
                    command_id=command.command_id,
                )
            )  # fmt: skip
            opened.append(
                BarrierDecision(
                    opened=True, kind=EventKind.REMOTE_OPEN, reason=command.reason, seq=seq
                )
            )
        return opened

    def apply_settings(self, settings: DeviceSettings) -> list[BarrierDecision]:
        """Decide from now on as the device's whole configuration says (`GET
        /device/v1/config`): accepted products, TOTP window and deny-list age, and the lot
        (`configure`, whose remote opens are returned). Versions held from earlier syncs that
        came into force before every version the new configuration lists are kept: the
        backend lists them from the oldest open stay it knows of, and this barrier's stays not
        yet uploaded are not among those."""
        if settings.device_id != self.device_id:
            raise ConfigurationError(f"configuration of {settings.device_id}, not {self.device_id}")
        if settings.barrier is None:
            raise ConfigurationError(f"{self.device_id}'s configuration has no lot: not a barrier")
        self.context = GateContext(self.device_id, settings.accepted_products)
        policy = replace(settings.policy, passback_seconds=0.0)
        self.verifier = Verifier(self._keyset, self._module, policy, self.verifier.deny_list)
        return self.configure(_keeping_older(self.config, settings.barrier))

    def hold_deny_list(self, deny_list: DenyList) -> None:
        """Decide with `deny_list` from now on (a whole list, or one a synced delta made)."""
        self.verifier.deny_list = deny_list

    def _lot_for(self, entry_at: datetime) -> Lot:
        """The lot with the tariff that prices a stay entered at `entry_at`."""
        if self.config is None:
            return self.lot
        return replace(self.lot, tariff=self.config.tariff_for_entry(entry_at).tariff)

    def _permit(self, credential_id: int | None, plate: str | None, at: datetime) -> Permit | None:
        if self.config is None:
            return None
        return self.config.permit_for(credential_id=credential_id, plate=plate, at=at)

    @property
    def open_sessions(self) -> list[ParkingSession]:
        return list(self._open.values())

    # -- lanes -----------------------------------------------------------------------------

    def present_entry(
        self,
        token: str | bytes,
        at: datetime | None = None,
        *,
        vehicle: str = "car",
        plate: str | None = None,
        room: bool = True,
        reserved_room: bool | None = None,
    ) -> BarrierDecision:
        """A driver shows the QR at the entry lane. `room`: whether the occupancy admits an
        ordinary entry; `reserved_room` whether it admits a permit holder (default: `room`)."""
        when = self._when(at)
        checked = self.verifier.verify(token, at=when, gate=self.context, memory=self.memory)
        if not checked.accepted:
            return self._refused(when, checked.reason.value, qr=checked, plate=plate)
        return self._admit(
            when, checked.credential_id, plate, vehicle, room, reserved_room, qr=checked
        )

    def present_plate(
        self,
        plate: str,
        at: datetime | None = None,
        *,
        vehicle: str = "car",
        room: bool = True,
        reserved_room: bool | None = None,
    ) -> BarrierDecision:
        """A plate-reading entry lane: a plate with a permit is admitted like a QR; any other
        plate must show its QR."""
        when = self._when(at)
        if self._permit(None, plate, when) is None:
            return self._refused(when, Refusal.NO_PERMIT, plate=plate, vehicle=vehicle)
        return self._admit(when, None, plate, vehicle, room, reserved_room, qr=None)

    def _admit(
        self,
        when: datetime,
        credential_id: int | None,
        plate: str | None,
        vehicle: str,
        room: bool,
        reserved_room: bool | None,
        *,
        qr: Decision | None,
    ) -> BarrierDecision:
        permit = self._permit(credential_id, plate, when)
        has_room = room if permit is None or reserved_room is None else reserved_room
        if not has_room:
            return self._refused(
                when, Refusal.LOT_FULL, qr=qr, plate=plate, vehicle=vehicle, step=qr is not None
            )
        decision = enter(
            self._lot_for(when),
            session_id="pending",
            at=when,
            vehicle=vehicle,
            credential_id=credential_id,
            plate=plate,
            open_sessions=self._open.values(),
        )
        if not decision.admitted or decision.session is None:
            return self._refused(
                when, Refusal.PASSBACK, qr=qr, plate=plate, vehicle=vehicle, step=qr is not None
            )
        if decision.superseded is not None:
            # Soft anti-passback: the earlier stay ends here and is charged like an exit.
            earlier = self._open[decision.superseded.session_id]
            self._collect_and_close(earlier, when, fee=None, step=None)
        seq = self.journal.append(
            self._record(
                EventKind.ENTRY,
                when,
                reason="ok",
                credential_id=credential_id,
                plate=decision.session.plate,
                vehicle=vehicle,
                step=None if qr is None else qr.step,
                passback_violation=decision.session.passback_violation,
                permit=permit,
            )
        )
        session = replace(
            decision.session,
            session_id=f"{self.device_id}:{seq}",
            permit_until=None if permit is None else permit.valid_until,
        )
        self._open[session.session_id] = session
        return BarrierDecision(
            opened=True, kind=EventKind.ENTRY, reason="ok", seq=seq, session=session, qr=qr
        )

    def present_exit(self, token: str | bytes, at: datetime | None = None) -> BarrierDecision:
        """A driver shows the QR at the exit lane: price, collect (or record), open."""
        when = self._when(at)
        checked = self.verifier.verify(token, at=when, gate=self.context, memory=self.memory)
        if not checked.accepted:
            return self._refused(when, checked.reason.value, qr=checked)
        session = next(
            (s for s in self._open.values() if s.credential_id == checked.credential_id), None
        )
        if session is None:
            return self._refused(when, Refusal.NO_OPEN_SESSION, qr=checked, step=True)
        decision = self._collect_and_close(session, when, fee=None, step=checked.step)
        return replace(decision, qr=checked)

    def lost_credential_exit(
        self, plate: str | None, at: datetime | None = None, *, vehicle: str = "car"
    ) -> BarrierDecision:
        """The operator's lost-credential flow: the plate's open session, else the lost price."""
        when = self._when(at)
        session, fee = lost_credential_fee(self._lot_for(when), plate, self._open.values(), when)
        if session is None:
            session = unknown_entry(
                self._lot_for(when), session_id="lost", at=when, vehicle=vehicle, plate=plate
            )
            return self._collect_and_close(session, when, fee=fee, step=None)
        return self._collect_and_close(session, when, fee=None, step=None)

    def present_plate_exit(self, plate: str, at: datetime | None = None) -> BarrierDecision:
        """A plate-reading exit lane: the plate's open stay is priced and closed (a permit
        holder's is free while the permit lasts); no open stay, no opening."""
        when = self._when(at)
        session = find_by_plate(self.lot, plate, self._open.values())
        if session is None:
            return self._refused(when, Refusal.NO_OPEN_SESSION, plate=plate)
        return self._collect_and_close(session, when, fee=None, step=None)

    # -- upload ----------------------------------------------------------------------------

    async def upload(self, uploader: Uploader, *, batch_size: int = 500) -> int:
        """Send every record after the cursor, batch by batch; returns how many were acked.

        An uploader that raises leaves the cursor where it was: the same records go again.
        """
        sent = 0
        while True:
            after = self.journal.cursor(self.device_id)
            records = self.journal.records(after, batch_size)
            if not records:
                return sent
            acked = await uploader(
                UploadBatch(
                    device_id=self.device_id, lot_id=self.lot.lot_id, records=tuple(records)
                )
            )
            self._acknowledge(after, acked, records)
            sent += acked - after
            if acked < records[-1].seq:
                return sent

    def _acknowledge(self, after: int, acked: int, records: list[BarrierRecord]) -> None:
        if not after <= acked <= records[-1].seq:
            raise BarrierError(
                f"receiver acknowledged seq {acked}; this batch held {after + 1}..{records[-1].seq}"
            )
        self.journal.advance_cursor(self.device_id, acked)

    def close(self) -> None:
        self.journal.close()

    # -- internals -------------------------------------------------------------------------

    def _when(self, at: datetime | None) -> datetime:
        return require_aware(at, "barrier time") if at is not None else self.clock()

    def _collect_and_close(
        self, session: ParkingSession, when: datetime, *, fee: ExitFee | None, step: int | None
    ) -> BarrierDecision:
        owed = fee if fee is not None else exit_fee(self._lot_for(session.entry_at), session, when)
        failure: CollectFailure | None = None
        if owed.amount > 0:
            failure = self._take(session, owed)
        return self._close(session, when, failure, fee, step=step)

    def _take(self, session: ParkingSession, fee: ExitFee) -> CollectFailure | None:
        if not self.online or self.collector is None:
            return CollectFailure.BARRIER_OFFLINE
        return self.collector(
            Charge(
                session_id=session.session_id,
                lot_id=self.lot.lot_id,
                credential_id=session.credential_id,
                plate=session.plate,
                amount=fee.amount,
                currency=fee.currency,
            )
        )

    def _close(
        self,
        session: ParkingSession,
        when: datetime,
        failure: CollectFailure | None,
        fee: ExitFee | None,
        *,
        step: int | None = None,
    ) -> BarrierDecision:
        priced_by = self._lot_for(session.entry_at)
        decision = leave(priced_by, session, when, failure=failure, fee=fee)
        closed = decision.session
        entry_seq = None if closed.lost_credential else int(closed.session_id.rsplit(":", 1)[1])
        seq = self.journal.append(
            self._record(
                EventKind.EXIT,
                when,
                reason=closed.state.value,
                session_seq=entry_seq,
                credential_id=closed.credential_id,
                plate=closed.plate,
                vehicle=closed.vehicle,
                step=step,
                fee=closed.fee,
                collected=closed.collected,
                failure=None if decision.unable_to_collect is None else failure,
                lost_credential=closed.lost_credential,
                tariff=priced_by.tariff,
            )
        )
        self._open.pop(session.session_id, None)
        return BarrierDecision(
            opened=True,
            kind=EventKind.EXIT,
            reason=closed.state.value,
            seq=seq,
            session=closed,
            fee=decision.fee,
            failure=None if decision.unable_to_collect is None else failure,
        )

    def _refused(
        self,
        when: datetime,
        reason: str,
        *,
        qr: Decision | None = None,
        plate: str | None = None,
        vehicle: str | None = None,
        step: bool = False,
    ) -> BarrierDecision:
        # `step`: the code itself was good and is now used up (replaying it must fail).
        seq = self.journal.append(
            self._record(
                EventKind.REFUSED,
                when,
                reason=str(reason),
                credential_id=None if qr is None else qr.credential_id,
                plate=plate,
                vehicle=vehicle,
                step=qr.step if qr is not None and step else None,
            )
        )
        return BarrierDecision(
            opened=False, kind=EventKind.REFUSED, reason=str(reason), seq=seq, qr=qr
        )

    def _record(
        self,
        kind: EventKind,
        when: datetime,
        *,
        reason: str,
        session_seq: int | None = None,
        credential_id: int | None = None,
        plate: str | None = None,
        vehicle: str | None = None,
        step: int | None = None,
        fee: int | None = None,
        collected: int | None = None,
        failure: CollectFailure | None = None,
        passback_violation: bool = False,
        lost_credential: bool = False,
        tariff: Tariff | None = None,
        permit: Permit | None = None,
        command_id: str | None = None,
    ) -> BarrierRecord:
        return BarrierRecord(
            device_id=self.device_id,
            seq=0,
            lot_id=self.lot.lot_id,
            kind=kind,
            at=when,
            session_seq=session_seq,
            credential_id=credential_id,
            plate=plate,
            vehicle=vehicle,
            reason=reason,
            step=step,
            tariff_id=None if tariff is None else tariff.id,
            fee=fee,
            currency=None if tariff is None else tariff.currency,
            collected=collected,
            failure=failure,
            passback_violation=passback_violation,
            lost_credential=lost_credential,
            permit_id=None if permit is None else permit.permit_id,
            permit_until=None if permit is None else permit.valid_until,
            command_id=command_id,
        )

    def _session_of(self, entry: BarrierRecord) -> ParkingSession:
        return ParkingSession(
            session_id=entry.session_id,
            lot_id=entry.lot_id,
            vehicle=entry.vehicle or "car",
            entry_at=entry.at,
            credential_id=entry.credential_id,
            plate=entry.plate,
            state=SessionState.OPEN,
            passback_violation=entry.passback_violation,
            permit_until=entry.permit_until,
        )


def _keeping_older(
    held: BarrierConfiguration | None, synced: BarrierConfiguration
) -> BarrierConfiguration:
    """`synced`, with the versions of `held` that came into force before all of its own."""
    if held is None or held.lot.lot_id != synced.lot.lot_id:
        return synced
    start = min(t.effective_from for t in synced.tariffs)
    older = tuple(t for t in held.tariffs if t.effective_from < start)
    return replace(synced, tariffs=older + synced.tariffs)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(at: datetime) -> int:
    return (require_aware(at) - _EPOCH) // timedelta(microseconds=1)


def _from_row(row: tuple[object, ...]) -> BarrierRecord:
    (seq, device_id, lot_id, kind, at_us, session_seq, cid, plate, vehicle, reason, step,
     tariff_id, fee, currency, collected, failure, passback, lost, permit_id,
     permit_until_us, command_id) = row  # fmt: skip
    assert isinstance(at_us, int)
    return BarrierRecord(
        device_id=str(device_id),
        seq=int(str(seq)),
        lot_id=str(lot_id),
        kind=EventKind(str(kind)),
        at=_EPOCH + timedelta(microseconds=at_us),
        session_seq=None if session_seq is None else int(str(session_seq)),
        credential_id=None if cid is None else int(str(cid)),
        plate=None if plate is None else str(plate),
        vehicle=None if vehicle is None else str(vehicle),
        reason=str(reason),
        step=None if step is None else int(str(step)),
        tariff_id=None if tariff_id is None else str(tariff_id),
        fee=None if fee is None else int(str(fee)),
        currency=None if currency is None else str(currency),
        collected=None if collected is None else int(str(collected)),
        failure=None if failure is None else CollectFailure(str(failure)),
        passback_violation=bool(passback),
        lost_credential=bool(lost),
        permit_id=None if permit_id is None else str(permit_id),
        permit_until=None
        if permit_until_us is None
        else _EPOCH + timedelta(microseconds=int(str(permit_until_us))),
        command_id=None if command_id is None else str(command_id),
    )
