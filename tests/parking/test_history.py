"""Occupancy history equals what replaying the stays gives: on plain values (hypothesis), and
over a simulated day at a lot whose barrier uploads as it goes, goes offline for hours,
uploads late and twice, and lets out cars whose entry it cannot find (SQLite, PostgreSQL)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.history import lot_day
from parking.occupancy_history import (
    BUCKET,
    BucketCounts,
    dwell_bands,
    occupancy_series,
)
from parking.records import BarrierEvent, SessionRecord
from parking.services import ingest_barrier_batch, sessions_of
from parking.sessions import Lot
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.barrier import OfflineBarrier
from tests.helpers.parking import lot_config, open_lot

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
START = datetime(2026, 11, 24, tzinfo=HANOI)


def replay(stays: Sequence[tuple[datetime, datetime | None]], at: datetime) -> int:
    """Vehicles inside at `at`: entered before it and not left before it."""
    return sum(1 for entry, leave in stays if entry < at and (leave is None or leave >= at))


@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-600, max_value=1440),
            st.one_of(st.none(), st.integers(min_value=0, max_value=2000)),
        ),
        max_size=40,
    )
)
def test_the_series_is_the_replay_of_the_stays(raw: list[tuple[int, int | None]]) -> None:
    stays = [
        (
            START + timedelta(minutes=entry, seconds=13),
            None if length is None else START + timedelta(minutes=entry + length, seconds=47),
        )
        for entry, length in raw
    ]
    counts = BucketCounts()
    for entry, leave in stays:
        counts.entry(entry)
        if leave is not None:
            counts.exit(leave, 1)
    buckets = counts.buckets()
    before = sum(b.entries - b.exits for b in buckets if b.start < START)
    end = START + timedelta(days=1)
    points = occupancy_series(before, [b for b in buckets if b.start >= START], START, end)
    assert len(points) == 24 * 12 + 1
    assert [p.occupied for p in points] == [replay(stays, p.at) for p in points]
    assert all(b.start.astimezone(UTC).minute % 5 == 0 for b in buckets)


def test_dwell_bands_put_each_stay_in_one_band() -> None:
    bands = dict(dwell_bands([0, 14.9, 15, 59, 60, 239, 1439, 1440, 5000]))
    assert bands == {
        "under 15 min": 2, "15-30 min": 1, "30 min-1 h": 1, "1-2 h": 1, "2-4 h": 1,
        "4-8 h": 0, "8-24 h": 1, "a day or more": 2,
    }  # fmt: skip


async def test_a_simulated_day_equals_its_replay(engine: AsyncEngine, tmp_path: Path) -> None:
    clock = [START + timedelta(hours=23, minutes=59)]
    uows = ParkingUnitOfWorkFactory(engine, lambda: clock[0])
    await open_lot(uows, lot_config("market", capacity=500))
    keys = fixed_key_material(rotated=False)
    barrier = OfflineBarrier(
        "market-b1", Lot(lot_id="market", tariff=load_tariff("hanoi-car")), keys.keyset,
        keys.secure_module(), tmp_path / "j.sqlite", collector=lambda charge: None,
        clock=lambda: START,
    )  # fmt: skip
    rng = random.Random(2026)
    phones = [
        issue_credential(keys, credential_id=n, product="WALLET", now=START - timedelta(days=2))
        for n in range(1, 61)
    ]
    events: list[tuple[datetime, int, str]] = []
    for n in range(60):
        entry = START + timedelta(minutes=rng.randrange(-180, 1380), seconds=rng.randrange(60))
        events.append((entry, n, "in"))
        if rng.random() < 0.8:
            events.append((entry + timedelta(minutes=rng.randrange(1, 900)), n, "out"))
    for n in range(5):  # cars whose entry the barrier cannot find: priced at the exit
        events.append((START + timedelta(hours=8 + n, minutes=7), -1 - n, "lost"))
    sent = 0

    async def upload() -> None:
        nonlocal sent
        records = barrier.journal.records(sent)
        if records:
            await ingest_barrier_batch(
                uows, "market-b1", "market", [BarrierEvent.from_journal(r) for r in records]
            )
            sent = records[-1].seq

    offline = (START + timedelta(hours=9), START + timedelta(hours=14))
    for at, n, what in sorted(events):
        if what == "in":
            assert barrier.present_entry(phones[n].token_at(at), at).opened
        elif what == "out":
            assert barrier.present_exit(phones[n].token_at(at), at).opened
        else:
            assert barrier.lost_credential_exit(None, at).opened
        if not offline[0] <= at < offline[1]:
            await upload()  # online: each event goes up at once
    await upload()
    everything = [BarrierEvent.from_journal(r) for r in barrier.journal.records(0)]
    again = await ingest_barrier_batch(uows, "market-b1", "market", everything)
    assert again.no_op  # sent twice: counted once

    sessions: list[SessionRecord] = await sessions_of(uows, "market")
    stays = [(s.entry_at, s.exit_at) for s in sessions]
    day = await lot_day(uows, "market", DAY)
    assert day.occupancy[0].at == START
    assert len(day.occupancy) == (clock[0] - START) // BUCKET + 1
    assert [p.occupied for p in day.occupancy] == [replay(stays, p.at) for p in day.occupancy]
    assert max(p.occupied for p in day.occupancy) > 5
    end = START + timedelta(days=1)
    ended = [s for s in sessions if s.exit_at is not None and START <= s.exit_at < end]
    for figures in day.hours:
        hour_start = START + timedelta(hours=figures.hour)
        hour_end = hour_start + timedelta(hours=1)
        assert figures.entries == sum(1 for s in sessions if hour_start <= s.entry_at < hour_end)
        assert figures.exits == sum(1 for s in ended if hour_start <= (s.exit_at or end) < hour_end)
    assert day.stays_ended == len(ended) == sum(count for _, count in day.dwell)
    assert day.revenue[-1].day == DAY
    assert day.revenue[-1].fees == sum(s.fee or 0 for s in ended)
    assert day.revenue[-1].fees > 0
