"""The device side of a simulated city day: phones show codes, offline gates decide and journal.

Every gate and validator runs the real verifier with only public key material and keeps its
own SQLite journal. Devices listed as offline keep journalling but upload only when the day's
outage ends, which is what makes the backend re-price days after late taps.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from qr.denylist import DenyList, DenyListDelta
from qr.issue import PhoneCredential
from qr.keys import KeySet
from qr.liveness import SecureModule
from simulators.gate import OfflineGate
from simulators.traffic import Presentation, TapAction


@dataclass(frozen=True, slots=True)
class UploadedTap:
    """An accepted journal record as a device uploads it, with the device's configuration."""

    device_id: str
    device_seq: int
    credential_id: int
    at: datetime
    route_id: str
    stop_id: str
    action: TapAction


@dataclass
class DayOutcome:
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True, slots=True)
class _DeviceConfig:
    route_id: str
    stop_id: str
    action: TapAction


class CityDevices:
    """All gates and validators of the simulation, created as passengers first reach them."""

    def __init__(
        self,
        journal_dir: Path,
        keyset: KeySet,
        secure_module: SecureModule,
        deny_list: DenyList,
        start: datetime,
    ) -> None:
        self._journal_dir = journal_dir
        self._keyset = keyset
        self._secure_module = secure_module
        self._deny_list = deny_list
        self._start = start
        self._gates: dict[str, OfflineGate] = {}
        self._configs: dict[str, _DeviceConfig] = {}
        self._uploaded_seq: dict[str, int] = {}

    @property
    def device_ids(self) -> list[str]:
        return sorted(self._gates)

    @property
    def deny_list(self) -> DenyList:
        """The deny list every device holds (and devices created later start from)."""
        return self._deny_list

    def apply_deny_delta(self, delta: DenyListDelta) -> DenyList:
        """Every device syncs the backend's delta; a gap or reordering raises and changes none."""
        updated = self._deny_list.apply(delta)
        for gate in self._gates.values():
            gate.apply_deny_delta(delta)
        self._deny_list = updated
        return updated

    def _gate(self, presentation: Presentation) -> OfflineGate:
        gate = self._gates.get(presentation.device_id)
        if gate is None:
            gate = OfflineGate(
                presentation.device_id,
                self._keyset,
                self._secure_module,
                self._journal_dir / f"{presentation.device_id}.sqlite",
                deny_list=self._deny_list,
                clock=lambda: self._start,
            )
            self._gates[presentation.device_id] = gate
            self._configs[presentation.device_id] = _DeviceConfig(
                presentation.route_id, presentation.stop_id, presentation.action
            )
        return gate

    def run(
        self,
        plan: Iterable[Presentation],
        phones: Mapping[int, PhoneCredential],
        phone_skew: Mapping[int, timedelta],
    ) -> DayOutcome:
        """Each passenger shows the code their phone computes from its own (maybe skewed) clock."""
        outcome = DayOutcome()
        for presentation in plan:
            credential_id = presentation.passenger.credential_id
            phone_time = presentation.at + phone_skew.get(credential_id, timedelta())
            token = phones[credential_id].token_at(phone_time)
            decision = self._gate(presentation).present_text(token, presentation.at)
            if decision.accepted:
                outcome.accepted += 1
            else:
                outcome.refused[decision.reason.value] += 1
        return outcome

    def upload(self, device_ids: Iterable[str]) -> list[UploadedTap]:
        """The accepted records each device has not uploaded yet, as its next batch."""
        batch: list[UploadedTap] = []
        for device_id in device_ids:
            config = self._configs[device_id]
            after = self._uploaded_seq.get(device_id, 0)
            for record in self._gates[device_id].journal.records(after_seq=after):
                after = record.seq
                if record.accepted and record.credential_id is not None:
                    batch.append(
                        UploadedTap(
                            device_id,
                            record.seq,
                            record.credential_id,
                            record.at,
                            config.route_id,
                            config.stop_id,
                            config.action,
                        )
                    )
            self._uploaded_seq[device_id] = after
        return batch

    def close(self) -> None:
        for gate in self._gates.values():
            gate.close()
