"""Demo stage 2: a seeded city day on the Hanoi network, over the wire.

The backend runs as its own process (`faregate demo` starts it, `faregate.demo.backend`). Gates
and validators registered the day before enrol over HTTP, correct their clocks from the
server's, sync their configuration, sealed liveness keys and the deny list, then decide
offline with the real verifier and journal to their own SQLite files. Phones show the code of
the moment from their own clocks (a few skewed). Devices upload their journals in batches
after each part of the day and send heartbeats on their configured interval (on their own
clocks, which run in real time as the server's does); a share of them is offline until the evening.
At noon the backend is restarted (a real process restart: nothing acknowledged is lost), one
rider reports their phone lost through the passenger API and the online gates sync the
deny-list delta, so later codes from that phone are refused there. A device that lost an
acknowledgement sends its batch again: nothing is stored twice.

The faults (`simulators.faults`, each switched by `--faults`) strike here: gates offline until
the evening, the backend restart, a batch cut off part-way (10:00), gates killed between
journaling and upload (17:00), a batch uploaded twice, clocks of gates and phones 40 s off.
Each strike is recorded with when it struck and how it was handled.
"""

from __future__ import annotations

import contextlib
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from faregate.demo.backend import Backend
from faregate.demo.riders import DemoRider
from faregate.demo.stopwatch import Stopwatch
from faregate.redis_runtime import private_redis
from qr.issue import PhoneCredential
from qr.render import write_png
from simulators.city import CityDevice, CityDevices, DevicePlace, UploadTally
from simulators.device_faults import clock_skews, cut_upload
from simulators.faults import FaultKind, Faults
from simulators.network import SimRoute
from simulators.phone import Phone
from simulators.station import LinkOutage, RedisStationMemory, StationGate, StationLink
from simulators.traffic import Presentation
from ticketing.devices import Binding, DeviceKind
from ticketing.riders import PaymentMode
from ticketing.service_day import DEFAULT_TIMEZONE

NOON = 12  # the backend restarts and the lost phone is reported
CUT_HOUR = 10  # a batch is cut off part-way at this upload round
KILL_HOUR = 17  # gates are killed between journaling and upload before this round
CUT_KEEPS = 0.5  # the share of the cut batch's body that goes out
# When the busiest stations of the morning peak lose their link to Redis (past midnight); the
# gates' next heartbeats report it.
STATION_OUTAGE = (timedelta(hours=7, minutes=15), timedelta(hours=8, minutes=15))
METRO_ACTIONS = ("entry", "exit")  # a gate's taps; a bus validator's are boardings
# Devices upload after each of these hours of the day (and the offline ones in the evening).
UPLOAD_HOURS = (10, 12, 17, 24)
CHUNK = 200  # presentations decided between progress updates
# A rider's code shared as a screenshot inside one station: shown at one of its entry gates,
# then the same image at another 20 s on (the same code, within its window): at 09:00 with
# the station's Redis up, and half an hour into the outage with it down.
SCREENSHOT_UP = timedelta(hours=9)
SCREENSHOT_INTO_OUTAGE = timedelta(minutes=30)
SCREENSHOT_GAP = timedelta(seconds=20)
# The sharing rider has no taps of their own this close to a screenshot (they would change
# what the gates decide).
SCREENSHOT_QUIET = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class SharedScreenshot:
    """A screenshot (a PNG of the phone's code, read back by each gate's camera with
    zxing-cpp) shown at two entry gates of one station."""

    station_id: str
    at: datetime
    png: Path
    gates: tuple[str, str]
    decisions: tuple[str, str]  # "accepted" or the reason refused, at each gate
    redis_down: bool

    @property
    def second_refused(self) -> bool:
        return self.decisions[1] != "accepted"

    @property
    def both_accepted(self) -> bool:
        return self.decisions == ("accepted", "accepted")


@dataclass
class CityStageResult:
    riders: Sequence[DemoRider] = ()
    presented: int = 0
    enrolled_devices: int = 0
    offline_devices: int = 0
    accepted_at_devices: int = 0
    refused_at_devices: Counter[str] = field(default_factory=Counter)
    uploads: UploadTally = field(default_factory=UploadTally)
    resent: int = 0  # records sent again after a lost acknowledgement
    resent_duplicates: int = 0  # of those, how many the backend answered as duplicates
    skewed_phones: int = 0
    lost_phone: str | None = None  # the account whose phone was reported lost
    deny_list_version: int = 0  # the version the online gates reached
    restarts: int = 0
    # Gates offline from the morning until after the day settled (the late_taps fault) that
    # still hold their journals: `deliver_late_taps` brings them back.
    late_devices: list[str] = field(default_factory=list)
    devices: CityDevices | None = None
    screenshots: list[SharedScreenshot] = field(default_factory=list)


def device_places(
    plan: Sequence[Presentation], routes: Sequence[SimRoute]
) -> tuple[dict[str, Binding], dict[str, DevicePlace]]:
    """Every device the day uses, at its place: a metro gate at its stop, a bus validator on
    its route; and where its taps are."""
    metro = {route.route_id for route in routes if route.is_metro}
    bindings: dict[str, Binding] = {}
    places: dict[str, DevicePlace] = {}
    for p in plan:
        bindings[p.device_id] = (
            Binding(kind=DeviceKind.GATE, stop_id=p.stop_id)
            if p.route_id in metro
            else Binding(kind=DeviceKind.VALIDATOR, route_id=p.route_id)
        )
        places.setdefault(p.device_id, DevicePlace(p.route_id, p.stop_id, p.action))
    return bindings, places


async def run_city_stage(
    workdir: Path,
    console: Console,
    *,
    backend: Backend,
    http: httpx.AsyncClient,
    plan: Sequence[Presentation],
    codes: Mapping[str, str],
    places: Mapping[str, DevicePlace],
    riders: Sequence[DemoRider],
    phones: Mapping[str, Phone],
    day_start: datetime,
    seed: int,
    faults: Faults | None = None,
    stranger: PhoneCredential | None = None,
    stopwatch: Stopwatch | None = None,
) -> CityStageResult:
    """`plan` names passengers by their index in `riders`; `faults` (default: every kind,
    reduced) records what struck; `stranger`, a credential the backend never issued, is
    shown at a gate before the 10:00 uploads."""
    faults = faults if faults is not None else Faults()
    watch = stopwatch if stopwatch is not None else Stopwatch()
    rng = random.Random(seed)
    result = CityStageResult(riders=riders, presented=len(plan))
    # The first rider is the demo's card-paying rider: their day must reach the gateway.
    skew = clock_skews(range(1, len(riders)), faults.dose(FaultKind.CLOCK_SKEW), seed)
    for index, off in skew.items():
        faults.struck(
            FaultKind.CLOCK_SKEW, f"phone of {riders[index].account_id} {_seconds(off)} off",
            "its codes refused at the gates as stale_code (the reason counted)", day_start,
        )  # fmt: skip
    result.skewed_phones = len(skew)
    shown: dict[int, PhoneCredential] = {n: rider.phone for n, rider in enumerate(riders)}
    gate_skews = clock_skews(sorted(codes), faults.dose(FaultKind.CLOCK_SKEW), seed + 1)
    # Every simulated gate journals on this one machine's disk: an fsync per decision would
    # queue all of them behind one another (3-4 ms a tap, the day's longest part at 1,000
    # riders), which no city of devices with their own storage has. Committed without it,
    # a killed gate's decisions are still all in its journal (the gate_killed fault).
    devices = CityDevices(
        http, workdir / "devices", clock=lambda: day_start, clock_skews=gate_skews,
        durable_journals=False,
    )  # fmt: skip
    stack = contextlib.AsyncExitStack()  # the stations' Redis and links, closed at the end
    try:
        with console.status(f"enrolling {len(codes)} gates and validators over HTTP"):
            await devices.enrol(codes, places)
        result.enrolled_devices = len(devices.devices)
        for device_id, off in gate_skews.items():
            faults.struck(
                FaultKind.CLOCK_SKEW, f"{device_id}'s clock {_seconds(off)} off",
                "corrected from the server's clock at enrolment (GET /device/v1/clock)",
                day_start,
            )  # fmt: skip
        offline_share = faults.dose(FaultKind.GATE_OFFLINE)
        offline_ids = (
            set(rng.sample(devices.device_ids, max(1, int(len(codes) * offline_share))))
            if offline_share
            else set()
        )
        late_ids = _late_gates(plan, riders, offline_ids, faults.times(FaultKind.LATE_TAPS), rng)
        for device_id in offline_ids | set(late_ids):
            devices.devices[device_id].online = False
        result.offline_devices = len(offline_ids)
        result.late_devices, result.devices = late_ids, devices
        console.print(
            f"{result.enrolled_devices} devices enrolled over HTTP, each synced its "
            f"configuration, sealed liveness keys and deny list; {len(offline_ids)} will stay "
            "offline until the evening"
            + (f", {len(late_ids)} until after the day settles" if late_ids else "")
        )
        midnight = day_start.replace(hour=0)
        outages = await _share_stations(stack, devices, workdir, plan, faults, midnight)
        uploads_at = {midnight + timedelta(hours=hour): hour for hour in UPLOAD_HOURS}
        # The day runs from boundary to boundary: the upload rounds, and where a station's
        # link goes down or comes back.
        shots = _screenshot_times(outages, midnight)
        boundaries = sorted(
            {*uploads_at, *shots, *(o.start for o in outages), *(o.end for o in outages)}
        )
        sharer = _sharing_rider(plan, riders, skew, shots, rng)
        watch.lap("devices enrol and sync, stations")
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("passengers tapping", total=len(plan))
            start = 0
            for until in boundaries:
                end = start
                last = until == boundaries[-1]
                while end < len(plan) and (last or plan[end].at < until):
                    end += 1
                if start < end:
                    for outage in outages:
                        await outage.reach(plan[start].at)
                for chunk_start in range(start, end, CHUNK):
                    chunk = plan[chunk_start : min(chunk_start + CHUNK, end)]
                    outcome = await devices.run(chunk, shown, skew)
                    result.accepted_at_devices += outcome.accepted
                    result.refused_at_devices.update(outcome.refused)
                    progress.advance(task, len(chunk))
                    watch.lap("devices decide (verify, journal)")
                start = end
                if until in shots and sharer is not None:
                    result.presented += 2
                    shot = await _share_screenshot(
                        devices, outages, shots[until], shown[sharer].token_at(until), until,
                        workdir / "screenshots",
                    )  # fmt: skip
                    if shot is not None:
                        result.screenshots.append(shot)
                        for decision in shot.decisions:
                            if decision == "accepted":
                                result.accepted_at_devices += 1
                            else:
                                result.refused_at_devices[decision] += 1
                if until not in uploads_at:
                    continue
                hour = uploads_at[until]
                if hour == CUT_HOUR and stranger is not None:
                    await _show_stranger(devices, stranger, result, faults, rng, until)
                if hour == CUT_HOUR:
                    await _cut_batches(devices, backend.url, result, faults, rng, until)
                if hour == KILL_HOUR:
                    await _kill_gates(devices, result, faults, rng, until)
                result.uploads.add(await devices.upload_round(devices.online()))
                watch.lap("devices upload (HTTP, database)")
                if hour == NOON:
                    await _noon(backend, devices, riders, phones, result, until, faults)
                    watch.lap("backend starts")
        await _evening(devices, result, rng, faults, midnight + timedelta(hours=24), late_ids)
        watch.lap("devices upload (HTTP, database)")
        result.deny_list_version = max(
            (d.gate.deny_list.version for d in devices.online() if d.gate.deny_list), default=0
        )
        _station_strikes(devices, outages, faults)
    finally:
        await stack.aclose()
        devices.close()
    _print_summary(console, result)
    return result


async def _noon(
    backend: Backend,
    devices: CityDevices,
    riders: Sequence[DemoRider],
    phones: Mapping[str, Phone],
    result: CityStageResult,
    at: datetime,
    faults: Faults,
) -> None:
    """The backend restarts (a real process: every acknowledged record must still be there);
    the devices correct their clocks from the new process. The last rider reports the phone
    lost (the old phone's code is denied from now on), signs in on the new phone and fetches
    a new credential; the online devices sync the deny-list delta."""
    if faults.on(FaultKind.BACKEND_RESTART):
        await backend.restart(at)
        result.restarts += 1
        await devices.each(list(devices.devices.values()), lambda d: d.client.correct_clock())
        faults.struck(
            FaultKind.BACKEND_RESTART, "faregate serve stopped (SIGTERM) and started again",
            "devices corrected their clocks from the new process; every acknowledged record "
            "is counted in the end-of-day conservation", at,
        )  # fmt: skip
    if len(riders) > 1:
        rider = riders[-1]
        phone = phones[rider.account_id]
        await phone.sign_in()  # the rider opens the app (their phone may have had no errand)
        await phone.report_lost()
        await phone.sign_in()
        await phone.fetch_credential()
        result.lost_phone = rider.account_id
    await devices.sync_all(devices.online())


async def _evening(
    devices: CityDevices,
    result: CityStageResult,
    rng: random.Random,
    faults: Faults,
    at: datetime,
    late: Sequence[str],
) -> None:
    """The offline devices come back (but the `late` ones), sync and upload what they decided
    all day; one device sends its first batch again, as one that lost the acknowledgement does."""
    back = [d for d in devices.devices.values() if not d.online and d.device_id not in late]
    for returning in back:
        returning.online = True
    await devices.sync_all(back)
    for device in back:
        tally = await device.upload()
        result.uploads.add(tally)
        faults.struck(
            FaultKind.GATE_OFFLINE, f"{device.device_id} offline all day",
            f"journaled on; uploaded {tally.records:,} records when back ({tally.new:,} new)",
            at,
        )  # fmt: skip
    await devices.heartbeats(back)  # due since the morning
    if not faults.on(FaultKind.BATCH_TWICE):
        return
    again = devices.devices[rng.choice(devices.device_ids)]
    taps, refusals = again.records(after_seq=0)
    taps, refusals = taps[:100], refusals[:20]
    if taps or refusals:
        answer = await again.resend(taps, refusals)
        result.resent = len(taps) + len(refusals)
        result.resent_duplicates = int(answer["duplicate"])
        faults.struck(
            FaultKind.BATCH_TWICE, f"{again.device_id} sent {result.resent} records again",
            f"{result.resent_duplicates} answered as duplicates, none stored twice", at,
        )  # fmt: skip


def _screenshot_times(outages: Sequence[LinkOutage], midnight: datetime) -> dict[datetime, str]:
    """When a screenshot is shared, and at which station: the first outage's station half an
    hour into its outage and at 09:00 (its Redis back); without an outage, the busiest
    station's (chosen then) at 09:00 only."""
    if not outages:
        return {midnight + SCREENSHOT_UP: ""}
    station = outages[0].station_id
    return {outages[0].start + SCREENSHOT_INTO_OUTAGE: station, midnight + SCREENSHOT_UP: station}


def _sharing_rider(
    plan: Sequence[Presentation],
    riders: Sequence[DemoRider],
    skew: Mapping[int, timedelta],
    shots: Mapping[datetime, str],
    rng: random.Random,
) -> int | None:
    """A rider (seeded) who pays per ride, whose phone keeps time and who taps nowhere near
    the screenshots' times; not the first (the declining card) nor the last (the lost phone)."""
    busy = {
        p.passenger.credential_id
        for p in plan
        if any(abs(p.at - at) < SCREENSHOT_QUIET for at in shots)
    }
    candidates = [
        n
        for n in range(1, len(riders) - 1)
        if n not in busy and n not in skew and riders[n].pass_product is None
    ]
    return rng.choice(candidates) if candidates else None


async def _share_screenshot(
    devices: CityDevices,
    outages: Sequence[LinkOutage],
    station_id: str,
    token: str,
    at: datetime,
    folder: Path,
) -> SharedScreenshot | None:
    """The rider's code of `at` saved as a PNG, shown at one online entry gate of the
    station (any with two, when `station_id` is empty) and 20 s on at another."""
    for outage in outages:
        await outage.reach(at)
    entries: dict[str, list[CityDevice]] = {}
    for device in devices.online():
        if device.station is not None and device.place.action == "entry":
            entries.setdefault(device.place.stop_id, []).append(device)
    stations = [station_id] if station_id else sorted(entries, key=lambda s: -len(entries[s]))
    gates = next((entries[s][:2] for s in stations if len(entries.get(s, ())) >= 2), None)
    if gates is None:
        return None
    png = _save_png(token, folder / f"{gates[0].place.stop_id}-{at:%H%M}.png")
    decisions, alone = [], False
    for n, gate in enumerate(gates):
        assert gate.station is not None
        seen = await gate.station.present_image(png, at + n * SCREENSHOT_GAP)
        decisions.append("accepted" if seen.decision.accepted else seen.decision.reason.value)
        alone = alone or seen.alone
    return SharedScreenshot(
        station_id=gates[0].place.stop_id, at=at, png=png,
        gates=(gates[0].device_id, gates[1].device_id),
        decisions=(decisions[0], decisions[1]), redis_down=alone,
    )  # fmt: skip


def _save_png(token: str, path: Path) -> Path:
    """The phone's screen as the sharing rider saves it: the code as a PNG."""
    path.parent.mkdir(exist_ok=True)
    write_png(token, path)
    return path


def _late_gates(
    plan: Sequence[Presentation],
    riders: Sequence[DemoRider],
    offline: set[str],
    count: int,
    rng: random.Random,
) -> list[str]:
    """`count` metro exit gates (seeded, not among the `offline`) where postpaid card riders
    tapped out: with their exits missing at the close, those journeys settle as incomplete and
    are charged to the card; the late exits lower the day and the difference is refunded."""
    if count <= 0:
        return []
    candidates = sorted(
        {
            p.device_id
            for p in plan
            if p.action == "exit"
            and p.device_id not in offline
            and riders[p.passenger.credential_id].payment_mode is PaymentMode.POSTPAID_CARD
        }
    )
    return rng.sample(candidates, min(count, len(candidates)))


async def deliver_late_taps(
    city: CityStageResult, faults: Faults, settled: date, *, next_run: date
) -> None:
    """The `late_taps` fault: the gates offline since the morning come back after `settled`
    was settled, their processes started again on their journals. Each corrects its clock
    from the server's (days on), syncs and uploads; the backend stores the taps and
    `next_run`'s settlement prices them as adjustments of `settled`."""
    devices = city.devices
    if devices is None:
        return
    late, city.late_devices = city.late_devices, []
    for device_id in late:
        await devices.devices[device_id].client.correct_clock()
        device = await devices.restart(device_id)
        device.online = True
        waiting = sum(len(records) for records in device.pending())
        tally = await device.upload()
        await device.heartbeat()
        device.close()
        city.uploads.add(tally)
        faults.struck(
            FaultKind.LATE_TAPS,
            f"{device_id} offline from the morning of {settled} until it was settled: "
            f"{waiting:,} records of {settled} uploaded late",
            f"{tally.new:,} stored ({tally.duplicate} duplicates); the {next_run} run prices "
            f"them as adjustments of {settled}: a lowered day refunded to the card, a raised "
            "one charged",
            device.client.now().astimezone(ZoneInfo(DEFAULT_TIMEZONE)),
        )  # fmt: skip


def _with_records(devices: CityDevices, count: int, rng: random.Random) -> list[CityDevice]:
    """`count` online devices (seeded) holding records not yet acknowledged."""
    holding = [d for d in devices.online() if any(d.pending())]
    return rng.sample(holding, min(count, len(holding)))


async def _cut_batches(
    devices: CityDevices,
    base_url: str,
    result: CityStageResult,
    faults: Faults,
    rng: random.Random,
    at: datetime,
) -> None:
    """A device's batch is cut off part-way (the link drops mid-body): the server stores
    nothing of it, and the device, with no answer, sends it again."""
    for device in _with_records(devices, faults.times(FaultKind.BATCH_CUT), rng):
        taps, refusals = device.pending()
        sent = await cut_upload(
            device.client, base_url, taps, refusals, at=device.client.now(), keep=CUT_KEEPS
        )
        tally = await device.upload()
        result.uploads.add(tally)
        faults.struck(
            FaultKind.BATCH_CUT,
            f"{device.device_id}'s batch of {len(taps) + len(refusals):,} records cut off "
            f"after {sent:,} bytes",
            f"nothing stored from it; the retry stored {tally.new:,} new "
            f"({tally.duplicate} duplicates)", at,
        )  # fmt: skip


async def _kill_gates(
    devices: CityDevices,
    result: CityStageResult,
    faults: Faults,
    rng: random.Random,
    at: datetime,
) -> None:
    """Gates killed between journaling and upload: a new process on the same journal file
    uploads from its first record again."""
    for device in _with_records(devices, faults.times(FaultKind.GATE_KILLED), rng):
        waiting = sum(len(records) for records in device.pending())
        restarted = await devices.restart(device.device_id)
        tally = await restarted.upload()
        result.uploads.add(tally)
        faults.struck(
            FaultKind.GATE_KILLED,
            f"{device.device_id} killed with {waiting:,} records journaled, not uploaded",
            f"a new process on its journal uploaded all {tally.records:,}: {tally.new:,} new, "
            f"{tally.duplicate:,} already stored (none lost, none twice)", at,
        )  # fmt: skip


async def _show_stranger(
    devices: CityDevices,
    stranger: PhoneCredential,
    result: CityStageResult,
    faults: Faults,
    rng: random.Random,
    until: datetime,
) -> None:
    """A credential the backend never issued, validly signed (an offline gate cannot tell),
    is shown at a metro gate; its tap reaches the backend with the gate's next upload."""
    gates = [d for d in devices.online() if d.station is not None]
    if not gates:
        return
    device, at = rng.choice(gates), until - timedelta(minutes=5)
    assert device.station is not None
    decision = (await device.station.present_text(stranger.token_at(at), at)).decision
    result.presented += 1
    if decision.accepted:
        result.accepted_at_devices += 1
    else:
        result.refused_at_devices[decision.reason.value] += 1
    tally = await device.upload()
    result.uploads.add(tally)
    quarantined = ", ".join(f"{n} {reason}" for reason, n in sorted(tally.quarantined.items()))
    faults.struck(
        FaultKind.UNKNOWN_CREDENTIAL,
        f"credential {stranger.credential.credential_id} (never issued) shown at "
        f"{device.device_id}",
        f"{decision.reason.value} offline (its signature holds); the upload's taps "
        f"quarantined by the backend for finance: {quarantined or 'none'}", at,
    )  # fmt: skip


async def _share_stations(
    stack: contextlib.AsyncExitStack,
    devices: CityDevices,
    workdir: Path,
    plan: Sequence[Presentation],
    faults: Faults,
    midnight: datetime,
) -> list[LinkOutage]:
    """The metro gates of each station share replay and passback through the stations' Redis
    (a private server in the data directory, each station on a link of its own); the busiest
    stations of the outage window lose their link then."""
    redis = await stack.enter_async_context(private_redis(workdir / "stations-redis"))
    links: dict[str, StationLink] = {}
    memories: dict[str, RedisStationMemory] = {}
    for device in devices.devices.values():
        stop = device.place.stop_id
        if device.place.action not in METRO_ACTIONS:
            continue
        if stop not in links:
            links[stop] = StationLink(redis.url)
            await links[stop].start()
            stack.push_async_callback(links[stop].aclose)
            memories[stop] = RedisStationMemory.connect(links[stop].url, stop)
            stack.push_async_callback(memories[stop].aclose)
        device.station = StationGate(device.gate, memories[stop])
    start, end = (midnight + at for at in STATION_OUTAGE)
    busy = Counter(p.stop_id for p in plan if p.action in METRO_ACTIONS and start <= p.at < end)
    chosen = sorted(busy, key=lambda stop: (-busy[stop], stop))
    return [
        LinkOutage(stop, links[stop], start, end)
        for stop in chosen[: faults.times(FaultKind.STATION_REDIS_DOWN)]
    ]


def _station_strikes(devices: CityDevices, outages: Sequence[LinkOutage], faults: Faults) -> None:
    for outage in outages:
        gaps = [
            gap
            for device in devices.devices.values()
            if device.station is not None
            for gap in device.station.gaps
            if gap.station_id == outage.station_id
        ]
        faults.struck(
            FaultKind.STATION_REDIS_DOWN,
            f"station {outage.station_id}'s Redis unreachable "
            f"{outage.start:%H:%M}-{outage.end:%H:%M}",
            f"{len(gaps)} gates decided on their own memory ("
            f"{sum(len(g.accepted_seqs) for g in gaps)} accepted then, recorded as the gap), "
            "reported in their heartbeats as station_memory.down",
            outage.start,
        )


def _seconds(offset: timedelta) -> str:
    return f"{offset.total_seconds():+.0f} s"


def _print_summary(console: Console, result: CityStageResult) -> None:
    uploads = result.uploads
    table = Table(title="City day (devices over HTTP)", show_header=False)
    table.add_row("riders", str(len(result.riders)))
    table.add_row(
        "devices enrolled (offline until evening)",
        f"{result.enrolled_devices} ({result.offline_devices})",
    )
    table.add_row("codes shown", f"{result.presented:,}")
    table.add_row("accepted at devices", f"{result.accepted_at_devices:,}")
    refused = ", ".join(f"{n} {reason}" for reason, n in sorted(result.refused_at_devices.items()))
    table.add_row("refused at devices", refused or "0")
    table.add_row(
        "journal uploads",
        f"{uploads.batches} batches, {uploads.records:,} records: {uploads.new:,} new, "
        f"{uploads.duplicate} duplicates, {uploads.retries} retries",
    )
    quarantined = ", ".join(f"{n} {k}" for k, n in sorted(uploads.quarantined.items()))
    table.add_row("quarantined by the backend", quarantined or "0")
    table.add_row(
        "batch sent twice",
        f"{result.resent} records again, {result.resent_duplicates} answered as duplicates",
    )
    if result.lost_phone is not None:
        table.add_row(
            "lost phone reported at noon",
            f"{result.lost_phone}; online gates synced to deny list v{result.deny_list_version}",
        )
    table.add_row("backend restarted", f"{result.restarts}× (at noon)")
    for shot in result.screenshots:
        table.add_row(
            f"screenshot shared at {shot.station_id} {shot.at:%H:%M} "
            f"(station Redis {'down' if shot.redis_down else 'up'})",
            f"{shot.png.name} at {shot.gates[0]}: {shot.decisions[0]}, "
            f"at {shot.gates[1]} 20 s on: {shot.decisions[1]}",
        )
    console.print(table)
