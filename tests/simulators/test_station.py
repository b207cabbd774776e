"""Gates of one station share replay and passback through the station's Redis (the shared test
Redis, under a key prefix of this test's own), and fall back to their own memory, flagged, when
the link to it is cut."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qr.decision import Reason
from qr.issue import PhoneCredential, issue_credential
from qr.keys import KeyMaterial
from qr.render import png_bytes
from qr.vectors import fixed_key_material
from simulators.gate import OfflineGate
from simulators.station import FAULT_CODE, RedisStationMemory, StationGate, StationLink
from tests.helpers.redis import LOCAL_REDIS

NOW = datetime(2025, 6, 1, 8, 30, 7, tzinfo=UTC)
STATION = "m2a_03"


@pytest.fixture(scope="module")
def keys() -> KeyMaterial:
    return fixed_key_material(rotated=False)


def _phone(keys: KeyMaterial) -> PhoneCredential:
    return issue_credential(
        keys, credential_id=secrets.randbits(63), product="PAYG", now=NOW - timedelta(hours=1)
    )


@pytest.fixture
async def link() -> AsyncIterator[StationLink]:
    link = StationLink(LOCAL_REDIS)
    await link.start()
    yield link
    await link.aclose()


@pytest.fixture
async def gates(
    keys: KeyMaterial, link: StationLink, tmp_path: Path
) -> AsyncIterator[tuple[StationGate, StationGate]]:
    prefix = f"test-station:{secrets.token_hex(8)}"
    made = []
    for name in ("G1", "G2"):
        gate = OfflineGate(
            f"{STATION}-{name}", keys.keyset, keys.secure_module(),
            tmp_path / f"{name}.sqlite", clock=lambda: NOW,
        )  # fmt: skip
        made.append(StationGate(gate, RedisStationMemory.connect(link.url, STATION, prefix=prefix)))
    yield made[0], made[1]
    for station_gate in made:
        station_gate.gate.close()
        assert isinstance(station_gate.station, RedisStationMemory)
        await station_gate.station.aclose()


async def test_a_screenshot_is_refused_at_the_second_gate_while_the_station_redis_is_up(
    keys: KeyMaterial, gates: tuple[StationGate, StationGate]
) -> None:
    first, second = gates
    screenshot = png_bytes(_phone(keys).token_at(NOW))
    at_first = await first.present_image(screenshot, NOW)
    at_second = await second.present_image(screenshot, NOW + timedelta(seconds=20))
    assert (at_first.decision.reason, at_first.alone) == (Reason.ACCEPTED, False)
    assert (at_second.decision.reason, at_second.alone) == (Reason.REPLAYED, False)
    assert [r.reason for r in second.gate.journal.records()] == [Reason.REPLAYED]
    assert first.gaps == second.gaps == []


async def test_a_fresh_code_at_the_next_gate_moments_later_is_passback(
    keys: KeyMaterial, gates: tuple[StationGate, StationGate]
) -> None:
    first, second = gates
    phone = _phone(keys)
    assert (await first.present_text(phone.token_at(NOW), NOW)).decision.accepted
    later = NOW + timedelta(seconds=60)  # a new TOTP step, within the 120 s passback time
    again = await second.present_text(phone.token_at(later), later)
    assert again.decision.reason is Reason.PASSBACK


async def test_with_the_station_redis_down_the_screenshot_is_accepted_and_flagged(
    keys: KeyMaterial, link: StationLink, gates: tuple[StationGate, StationGate]
) -> None:
    first, second = gates
    link.cut()
    token = _phone(keys).token_at(NOW)
    at_first = await first.present_text(token, NOW)
    at_second = await second.present_text(token, NOW + timedelta(seconds=20))
    assert (at_first.decision.reason, at_first.alone) == (Reason.ACCEPTED, True)
    assert (at_second.decision.reason, at_second.alone) == (Reason.ACCEPTED, True)
    # Each gate's own memory still holds: the same screenshot again at one gate is refused.
    again = await first.present_text(token, NOW + timedelta(seconds=5))
    assert (again.decision.reason, again.alone) == (Reason.REPLAYED, True)
    for gate, decided, since in (
        (first, at_first, NOW),
        (second, at_second, NOW + timedelta(seconds=20)),
    ):
        [gap] = gate.gaps
        assert (gap.station_id, gap.since, gap.until) == (STATION, since, None)
        assert gap.accepted_seqs == [decided.seq]
        assert [f["code"] for f in gate.heartbeat_faults()] == [FAULT_CODE]

    await link.restore()
    back = NOW + timedelta(minutes=5)
    other = _phone(keys).token_at(back)
    assert (await first.present_text(other, back)).alone is False
    assert (await second.present_text(other, back)).decision.reason is Reason.REPLAYED
    assert first.gaps[0].until == back
    assert first.heartbeat_faults() == []  # reported while it lasted


async def test_a_gap_between_two_heartbeats_is_reported_once_by_the_next(
    keys: KeyMaterial, link: StationLink, gates: tuple[StationGate, StationGate]
) -> None:
    first, _ = gates
    link.cut()
    assert (await first.present_text(_phone(keys).token_at(NOW), NOW)).alone
    await link.restore()
    back = NOW + timedelta(minutes=1)
    assert not (await first.present_text(_phone(keys).token_at(back), back)).alone
    [fault] = first.heartbeat_faults()
    assert (fault["code"], fault["since"]) == (FAULT_CODE, NOW.isoformat())
    assert first.heartbeat_faults() == []


async def test_two_gates_accepting_one_code_at_once_only_one_wins(
    keys: KeyMaterial, gates: tuple[StationGate, StationGate]
) -> None:
    token = _phone(keys).token_at(NOW)
    both = await asyncio.gather(*(gate.present_text(token, NOW) for gate in gates))
    assert sorted(d.decision.reason for d in both) == [Reason.ACCEPTED, Reason.REPLAYED]


async def test_an_unreadable_image_is_refused_without_asking_the_station(
    gates: tuple[StationGate, StationGate], link: StationLink
) -> None:
    link.cut()
    first, _ = gates
    refused = await first.present_image(b"not a png", NOW)
    assert (refused.decision.reason, refused.alone) == (Reason.MALFORMED, False)
    assert first.gaps == []
