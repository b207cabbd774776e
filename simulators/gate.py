"""An offline gate (metro gate, bus validator, barrier): the real verifier, a camera, a journal.

The gate holds only public material: the key set, a secure module for liveness codes, the deny
list and its replay/passback memory. Every decision is appended to a local SQLite journal with
the device's own sequence number and committed before the decision is returned, so a crash
loses nothing the gate has acted on; on restart the replay memory is rebuilt from the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from qr.decision import Decision, Reason
from qr.decode import verify_image
from qr.denylist import EMPTY_DENY_LIST, DenyList, DenyListDelta
from qr.keys import KeySet
from qr.liveness import SecureModule
from qr.memory import GateMemory
from qr.timeutil import Clock, from_unix, require_aware, utc_now
from qr.verifier import GateContext, Verifier, VerifierPolicy
from simulators.device_client import refusal_record, tap_record
from simulators.device_config import DeviceSettings
from simulators.errors import ConfigurationError
from simulators.journal import SqliteJournal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    at_unix REAL NOT NULL,
    credential_id TEXT,            -- decimal: a 64-bit unsigned id overflows SQLite's INTEGER
    accepted INTEGER NOT NULL,
    reason TEXT NOT NULL,
    step INTEGER,
    product TEXT,
    deny_list_version INTEGER,
    deny_list_stale INTEGER NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One decision as the gate journals it; (device_id, seq) identifies it for upload."""

    device_id: str
    seq: int
    at: datetime
    credential_id: int | None
    accepted: bool
    reason: Reason
    step: int | None
    product: str | None
    deny_list_version: int | None
    deny_list_stale: bool


class GateJournal(SqliteJournal):
    """The gate's durable, append-only decision log in one SQLite file (`simulators.journal`:
    one fsynced transaction per decision unless `durable=False`)."""

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        super().__init__(path, _SCHEMA, durable=durable)

    def append(self, device_id: str, at: datetime, decision: Decision) -> int:
        """Write the decision and commit; returns its per-device sequence number."""
        return self._append(
            "INSERT INTO journal (device_id, at_unix, credential_id, accepted, reason, step,"
            " product, deny_list_version, deny_list_stale) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                device_id,
                at.timestamp(),
                None if decision.credential_id is None else str(decision.credential_id),
                int(decision.accepted),
                decision.reason.value,
                decision.step,
                decision.product,
                decision.deny_list_version,
                int(decision.deny_list_stale),
            ),
        )

    def records(self, after_seq: int = 0) -> list[JournalRecord]:
        """Records with a sequence number above `after_seq`, in order (what an upload sends)."""
        rows = self._db.execute(
            "SELECT device_id, seq, at_unix, credential_id, accepted, reason, step, product,"
            " deny_list_version, deny_list_stale FROM journal WHERE seq > ? ORDER BY seq",
            (after_seq,),
        ).fetchall()
        return [
            JournalRecord(
                device_id=r[0],
                seq=r[1],
                at=from_unix(r[2]),
                credential_id=None if r[3] is None else int(r[3]),
                accepted=bool(r[4]),
                reason=Reason(r[5]),
                step=r[6],
                product=r[7],
                deny_list_version=r[8],
                deny_list_stale=bool(r[9]),
            )
            for r in rows
        ]

    def batch(
        self, after_seq: int, *, route_id: str, stop_id: str, kind: str
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The records after `after_seq` as the next journal upload (docs/DEVICE-API.md): the
        accepted ones as taps at the gate's place, the refused ones as refusals."""
        taps: list[dict[str, Any]] = []
        refusals: list[dict[str, Any]] = []
        for r in self.records(after_seq):
            if r.accepted and r.credential_id is not None:
                taps.append(
                    tap_record(
                        r.device_id, r.seq, r.credential_id, r.at, route_id=route_id,
                        stop_id=stop_id, kind=kind, step=r.step,
                        deny_list_version=r.deny_list_version,
                        deny_list_stale=r.deny_list_stale,
                    )
                )  # fmt: skip
            else:
                refusals.append(
                    refusal_record(
                        r.device_id, r.seq, r.at, r.reason.value,
                        credential_id=r.credential_id, route_id=route_id, stop_id=stop_id,
                        step=r.step, deny_list_version=r.deny_list_version,
                        deny_list_stale=r.deny_list_stale,
                    )
                )  # fmt: skip
        return taps, refusals

    def restore_memory(self, since: float) -> GateMemory:
        """The replay/passback memory implied by accepted uses at or after Unix time `since`."""
        return self._memory(
            "SELECT device_id, at_unix, credential_id, step FROM journal"
            " WHERE accepted = 1 AND at_unix >= ? ORDER BY seq",
            since,
        )


class OfflineGate:
    """A gate working offline: given a token (text or image) and a time, it decides and journals."""

    def __init__(
        self,
        device_id: str,
        keyset: KeySet,
        secure_module: SecureModule,
        journal_path: Path,
        *,
        deny_list: DenyList | None = None,
        policy: VerifierPolicy | None = None,
        accepted_products: frozenset[str] | None = None,
        clock: Clock = utc_now,
        durable_journal: bool = True,
    ) -> None:
        self.device_id = device_id
        self.context = GateContext(device_id, accepted_products)
        self._keyset = keyset
        self._module = secure_module
        self.verifier = Verifier(keyset, secure_module, policy, deny_list)
        self.clock = clock
        self.journal = GateJournal(journal_path, durable=durable_journal)
        now = require_aware(clock(), "gate clock").timestamp()
        self.memory = self.journal.restore_memory(since=now - self.verifier.keep_seconds())

    @property
    def deny_list(self) -> DenyList | None:
        return self.verifier.deny_list

    def apply_settings(self, settings: DeviceSettings) -> None:
        """Decide from now on as the device's configuration says (accepted products, TOTP
        window, passback, deny-list age); the deny list and the replay memory stay."""
        if settings.device_id != self.device_id:
            raise ConfigurationError(f"configuration of {settings.device_id}, not {self.device_id}")
        self.context = GateContext(self.device_id, settings.accepted_products)
        self.verifier = Verifier(
            self._keyset, self._module, settings.policy, self.verifier.deny_list
        )

    def hold_deny_list(self, deny_list: DenyList) -> None:
        """Decide with `deny_list` from now on (a whole list, or one a synced delta made)."""
        self.verifier.deny_list = deny_list

    def apply_deny_delta(self, delta: DenyListDelta) -> DenyList:
        """Apply a synced delta; a gap or reordering raises and leaves the list unchanged."""
        current = self.verifier.deny_list or EMPTY_DENY_LIST
        self.verifier.deny_list = current.apply(delta)
        return self.verifier.deny_list

    def _when(self, at: datetime | None) -> datetime:
        return require_aware(at, "gate time") if at is not None else self.clock()

    def _journaled(self, when: datetime, decision: Decision) -> Decision:
        self.journal.append(self.device_id, when, decision)
        return decision

    def present_text(self, token: str | bytes, at: datetime | None = None) -> Decision:
        when = self._when(at)
        decision = self.verifier.verify(token, at=when, gate=self.context, memory=self.memory)
        return self._journaled(when, decision)

    def present_image(self, image: Path | bytes, at: datetime | None = None) -> Decision:
        """Scan a QR image as the gate's camera would; an unreadable image is refused."""
        when = self._when(at)
        decision = verify_image(
            self.verifier, image, at=when, gate=self.context, memory=self.memory
        )
        return self._journaled(when, decision)

    def close(self) -> None:
        self.journal.close()
