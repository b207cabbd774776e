"""The device side of a simulated city day: enrolled gates and validators that reach the backend
only over the device API (`simulators.device_client`, written from docs/DEVICE-API.md).

Each device enrols with its one-time code and an X25519 key of its own, corrects its clock
from the server's, syncs its configuration, the key set, its sealed liveness keys and the deny
list, then decides offline with the real verifier (`simulators.gate.OfflineGate`) and keeps its
own SQLite journal. It uploads its journal in batches (accepted taps and refused decisions, in
sequence order), forgetting a record only once an upload holding it was answered 200; an
unanswered or failed upload is retried with backoff. It sends a heartbeat on the interval its
configuration gives, on its own clock (`CityDevices.heartbeats` is checked as the day runs).
A device marked offline keeps deciding and journalling, and uploads and reports when it is
back.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from qr.issue import PhoneCredential
from qr.keys import KeySet
from simulators.device_client import DeviceClient, generate_device_key
from simulators.device_config import DeviceSettings
from simulators.errors import UploadFailed
from simulators.gate import OfflineGate
from simulators.secure_module import DeviceSecureModule
from simulators.station import StationGate
from simulators.traffic import Presentation, TapAction

SOFTWARE_VERSION = "faregate-sim-gate 1.0"
BATCH_SIZE = 500  # journal records per upload
UPLOAD_ATTEMPTS = 8
FIRST_BACKOFF = 0.05  # seconds, doubled after each failed attempt
MAX_BACKOFF = 2.0
ENROL_CONCURRENCY = 8


@dataclass(frozen=True, slots=True)
class DevicePlace:
    """Where a device stands and what a tap there is: the fare feed's route and stop."""

    route_id: str
    stop_id: str
    action: TapAction


@dataclass
class UploadTally:
    """What the backend answered to a round of uploads, summed."""

    batches: int = 0
    records: int = 0  # taps and refusals sent
    new: int = 0
    duplicate: int = 0
    quarantined: Counter[str] = field(default_factory=Counter)
    conflicting: int = 0
    retries: int = 0

    def add(self, other: UploadTally) -> None:
        self.batches += other.batches
        self.records += other.records
        self.new += other.new
        self.duplicate += other.duplicate
        self.quarantined.update(other.quarantined)
        self.conflicting += other.conflicting
        self.retries += other.retries


@dataclass
class DayOutcome:
    accepted: int = 0
    refused: Counter[str] = field(default_factory=Counter)


class CityDevice:
    """One enrolled gate or validator: its client, secure module, verifier and journal."""

    def __init__(
        self,
        client: DeviceClient,
        place: DevicePlace,
        module: DeviceSecureModule,
        gate: OfflineGate,
    ) -> None:
        self.client = client
        self.place = place
        self.module = module
        self.gate = gate
        self.config: Mapping[str, Any] | None = None
        self.settings: DeviceSettings | None = None  # the configuration, read
        self.uploaded_seq = 0  # every record up to it was answered 200
        self.online = True
        # A metro gate shares replay and passback with its station's other gates.
        self.station: StationGate | None = None

    @property
    def device_id(self) -> str:
        return self.client.device_id

    async def sync(self) -> None:
        """Configuration, liveness keys and deny list, each fetched only when it changed."""
        self.config = await self.client.configuration(self.config)
        self.settings = DeviceSettings.from_json(self.config)
        self.gate.apply_settings(self.settings)
        sealed = await self.client.liveness_keys(self.module.version)
        if sealed is not None:
            self.module.load(sealed)
        self.gate.hold_deny_list(await self.client.sync_deny_list(self.gate.deny_list))

    def records(self, *, after_seq: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The journal records after `after_seq` as upload records (taps, refusals)."""
        place = self.place
        return self.gate.journal.batch(
            after_seq, route_id=place.route_id, stop_id=place.stop_id, kind=place.action
        )

    def pending(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The journal records not yet acknowledged."""
        return self.records(after_seq=self.uploaded_seq)

    async def upload(self, *, batch_size: int = BATCH_SIZE) -> UploadTally:
        """Send what the journal holds past the last acknowledgement, batch by batch."""
        tally = UploadTally()
        taps, refusals = self.pending()
        records = sorted(
            [(r["device_seq"], True, r) for r in taps]
            + [(r["device_seq"], False, r) for r in refusals],
            key=lambda entry: entry[0],
        )
        for start in range(0, len(records), batch_size):
            chunk = records[start : start + batch_size]
            answer = await self._send(
                [r for _, is_tap, r in chunk if is_tap],
                [r for _, is_tap, r in chunk if not is_tap],
                tally,
            )
            self.uploaded_seq = chunk[-1][0]
            tally.batches += 1
            tally.records += len(chunk)
            tally.new += int(answer["new"])
            tally.duplicate += int(answer["duplicate"])
            tally.conflicting += len(answer.get("conflicting", ()))
            tally.quarantined.update(q["reason"] for q in answer.get("quarantined", ()))
        return tally

    async def resend(self, taps: list[dict[str, Any]], refusals: list[dict[str, Any]]) -> Any:
        """Send records again (a device that lost the acknowledgement does)."""
        return await self._send(taps, refusals, UploadTally())

    async def _send(
        self, taps: list[dict[str, Any]], refusals: list[dict[str, Any]], tally: UploadTally
    ) -> Any:
        backoff = FIRST_BACKOFF
        last = "no answer"
        for attempt in range(UPLOAD_ATTEMPTS):
            if attempt:
                tally.retries += 1
                await asyncio.sleep(backoff)  # the device's backoff between attempts
                backoff = min(backoff * 2, MAX_BACKOFF)
            try:
                answer = await self.client.upload(taps, refusals)
            except httpx.TransportError as error:
                last = repr(error)
                continue
            if answer.status_code == 200:
                return answer.json()
            last = f"{answer.status_code} {answer.text[:200]}"
            if answer.status_code == 401:
                await self.client.correct_clock()  # the server may have moved on (a restart)
            elif answer.status_code < 500 and answer.status_code != 429:
                break  # refused as it is: sending it again changes nothing
        raise UploadFailed(f"{self.device_id}: upload failed: {last}")

    async def heartbeat_if_due(self) -> bool:
        """Send a heartbeat if its interval has come on the device clock; whether it did."""
        if self.settings is None or not self.client.heartbeat_due(self.settings.heartbeat_interval):
            return False
        await self.heartbeat()
        return True

    async def heartbeat(self) -> None:
        taps, refusals = self.pending()
        answer = await self.client.heartbeat(
            SOFTWARE_VERSION,
            config=self.config,
            key_set_version=self.module.version,
            deny_list=self.gate.deny_list,
            waiting=[*taps, *refusals],
            faults=None if self.station is None else self.station.heartbeat_faults(),
        )
        answer.raise_for_status()

    def close(self) -> None:
        self.gate.close()


class CityDevices:
    """All gates and validators of the simulation, on one HTTP connection pool."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        journal_dir: Path,
        *,
        clock: Callable[[], datetime],
        device_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock_skews: Mapping[str, timedelta] | None = None,
        durable_journals: bool = True,
    ) -> None:
        """`clock` is the simulated time the gates decide at when a presentation names none;
        `device_clock` the devices' own clocks (signing, heartbeat timers), each off by its
        skew. `durable_journals=False`: the journals commit without an fsync each (a killed
        device process still loses nothing committed; a power cut may lose the last ones)."""
        self.http = http
        self.journal_dir = journal_dir
        self.durable_journals = durable_journals
        self.clock = clock
        self.device_clock = device_clock
        # Devices whose own clocks run off; each corrects it from the server's at enrolment.
        self.clock_skews = dict(clock_skews or {})
        self.devices: dict[str, CityDevice] = {}

    @property
    def device_ids(self) -> list[str]:
        return sorted(self.devices)

    def online(self) -> list[CityDevice]:
        return [self.devices[d] for d in self.device_ids if self.devices[d].online]

    async def enrol(self, codes: Mapping[str, str], places: Mapping[str, DevicePlace]) -> None:
        """Enrol every device of `codes` (id -> one-time code) and sync it."""
        limit = asyncio.Semaphore(ENROL_CONCURRENCY)

        async def one(device_id: str) -> None:
            async with limit:
                await self._enrol(device_id, codes[device_id], places[device_id])

        await asyncio.gather(*(one(d) for d in sorted(codes)))

    async def _enrol(self, device_id: str, code: str, place: DevicePlace) -> None:
        key = generate_device_key()
        skew = self.clock_skews.get(device_id, timedelta())
        client = await DeviceClient.enrol(
            str(self.http.base_url), device_id, code, key, http=self.http,
            clock=lambda: self.device_clock() + skew,
        )  # fmt: skip
        await client.correct_clock()
        await self._start(client, place, DeviceSecureModule(key))

    async def _start(
        self, client: DeviceClient, place: DevicePlace, module: DeviceSecureModule
    ) -> CityDevice:
        """The device's gate process on its journal file, synced."""
        keyset = KeySet.from_json(await client.keyset())
        device_id = client.device_id
        gate = OfflineGate(
            device_id, keyset, module, self.journal_dir / f"{device_id}.sqlite", clock=self.clock,
            durable_journal=self.durable_journals,
        )  # fmt: skip
        device = CityDevice(client, place, module, gate)
        await device.sync()
        self.devices[device_id] = device
        return device

    async def restart(self, device_id: str) -> CityDevice:
        """The device's process killed and started again: a new gate on the same journal file
        (every decision was committed there before it was acted on; the replay memory is
        rebuilt from it), its secret and key from its secure storage, the acknowledgement it
        held in memory lost, so it uploads from its first record again (the server stores
        nothing twice)."""
        old = self.devices[device_id]
        old.gate.close()
        device = await self._start(old.client, old.place, old.module)
        device.online = old.online
        if old.station is not None:  # the station's memory is outside the process: still there
            old.station.gate = device.gate
            device.station = old.station
        return device

    async def run(
        self,
        plan: Iterable[Presentation],
        phones: Mapping[int, PhoneCredential],
        phone_skew: Mapping[int, timedelta],
    ) -> DayOutcome:
        """Each passenger shows the code their phone computes from its own (maybe skewed)
        clock; `phones` by the credential id the plan names. A gate with a station decides
        with the station's shared memory. Then the online devices send the heartbeats that
        came due meanwhile."""
        outcome = DayOutcome()
        for presentation in plan:
            credential_id = presentation.passenger.credential_id
            phone_time = presentation.at + phone_skew.get(credential_id, timedelta())
            token = phones[credential_id].token_at(phone_time)
            device = self.devices[presentation.device_id]
            if device.station is not None:
                decision = (await device.station.present_text(token, presentation.at)).decision
            else:
                decision = device.gate.present_text(token, presentation.at)
            if decision.accepted:
                outcome.accepted += 1
            else:
                outcome.refused[decision.reason.value] += 1
        await self.heartbeats(self.online())
        return outcome

    async def each(
        self, devices: Sequence[CityDevice], action: Callable[[CityDevice], Any]
    ) -> list[Any]:
        """Run `action` (a coroutine function) on every device, a few at a time."""
        limit = asyncio.Semaphore(ENROL_CONCURRENCY)

        async def one(device: CityDevice) -> Any:
            async with limit:
                return await action(device)

        return list(await asyncio.gather(*(one(d) for d in devices)))

    async def upload_round(self, devices: Sequence[CityDevice]) -> UploadTally:
        """Every device of `devices` uploads what it holds (then sends a heartbeat if one is
        due)."""
        total = UploadTally()
        for tally in await self.each(devices, lambda device: device.upload()):
            total.add(tally)
        await self.heartbeats(devices)
        return total

    async def heartbeats(self, devices: Sequence[CityDevice]) -> int:
        """Every device of `devices` whose heartbeat is due sends it; how many did."""
        sent = await self.each(devices, lambda device: device.heartbeat_if_due())
        return sum(sent)

    async def sync_all(self, devices: Sequence[CityDevice]) -> None:
        await self.each(devices, lambda device: device.sync())

    def close(self) -> None:
        for device in self.devices.values():
            device.close()
