"""Tap ingest: idempotent by (device_id, device_seq), conflicts reported, reads for pricing."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from faregate_data import HANOI_FEED
from ticketing.db.engine import create_engine
from ticketing.errors import NaiveTime
from ticketing.fares.feed import load_feed
from ticketing.service_day import service_day
from ticketing.services import taps as tap_service
from ticketing.stores.taps import IngestResult
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

FEED = load_feed(HANOI_FEED)


async def ingest_taps(uow_factory: UnitOfWorkFactory, taps: Sequence[Tap]) -> IngestResult:
    return await tap_service.ingest_taps(uow_factory, taps, feed=FEED)


T0 = datetime(2025, 3, 1, 1, 0, tzinfo=UTC)


def tap(device: str, seq: int, *, account: str = "a1", minutes: int = 0, stop: str = "S1") -> Tap:
    return Tap(
        device,
        seq,
        2**63 + seq,
        account,
        T0 + timedelta(minutes=minutes),
        "2A",
        stop,
        TapKind.ENTRY,
    )


async def stored(uow_factory: UnitOfWorkFactory) -> list[Tap]:
    async with uow_factory() as uow:
        return [t async for t in uow.taps.stream(T0 - timedelta(days=1), T0 + timedelta(days=1))]


async def test_a_repeated_upload_is_a_no_op(uow_factory: UnitOfWorkFactory) -> None:
    batch = [tap("g1", i, minutes=i) for i in range(1, 6)]
    assert await ingest_taps(uow_factory, batch) == IngestResult(5, 0)
    before = await stored(uow_factory)
    assert await ingest_taps(uow_factory, batch) == IngestResult(0, 5)
    assert await ingest_taps(uow_factory, [*batch[2:], tap("g1", 6, minutes=6)]) == IngestResult(
        1, 3
    )
    assert await stored(uow_factory) == [*before, tap("g1", 6, minutes=6)]


async def test_taps_keep_their_instant_and_text_whatever_offset_and_script(
    uow_factory: UnitOfWorkFactory,
) -> None:
    """Bulk statements send rows as JSON on PostgreSQL: offsets, microseconds, quotes and
    non-ASCII text must come back exactly."""
    hanoi = timezone(timedelta(hours=7))
    local = datetime(2025, 3, 1, 8, 0, 0, 123456, tzinfo=hanoi)
    odd = Tap(
        'cổng "Hà Nội"\\1', 1, 2**64 - 1, "tài-khoản", local, "2A", "Ga Cát Linh", TapKind.EXIT
    )
    assert await ingest_taps(uow_factory, [odd]) == IngestResult(1, 0)
    [back] = await stored(uow_factory)
    assert back == odd
    assert back.at.utcoffset() == timedelta(0)
    assert await ingest_taps(uow_factory, [odd]) == IngestResult(0, 1)


async def test_a_changed_record_under_a_known_key_is_reported_not_stored(
    uow_factory: UnitOfWorkFactory,
) -> None:
    await ingest_taps(uow_factory, [tap("g1", 1)])
    result = await ingest_taps(
        uow_factory, [tap("g1", 1, stop="S9"), tap("g1", 2), tap("g1", 2, stop="S8")]
    )
    assert result == IngestResult(1, 2, (("g1", 1), ("g1", 2)))
    assert [t.stop_id for t in await stored(uow_factory)] == ["S1", "S1"]


async def test_reads_group_by_account_and_respect_the_freeze_time(
    uow_factory: UnitOfWorkFactory,
) -> None:
    received = [T0 + timedelta(hours=2)]  # the clock the store stamps received_at with
    clocked = UnitOfWorkFactory(uow_factory.engine, clock=lambda: received[0])
    await ingest_taps(
        clocked, [tap("g1", 1, account="b", minutes=5), tap("g2", 1, account="a", minutes=9)]
    )
    frozen = received[0] + timedelta(microseconds=1)
    received[0] = frozen  # received at the freeze time: not before it
    await ingest_taps(clocked, [tap("g1", 2, account="a", minutes=1)])
    async with uow_factory() as uow:
        everything = [
            (t.account_id, t.device_seq) async for t in uow.taps.stream(T0, T0 + timedelta(hours=1))
        ]
        before_freeze = [
            t.key
            async for t in uow.taps.stream(T0, T0 + timedelta(hours=1), received_before=frozen)
        ]
        account_a = await uow.taps.for_account("a", T0, T0 + timedelta(minutes=5))
        assert await uow.taps.count() == 3
    assert everything == [("a", 2), ("a", 1), ("b", 1)]
    assert sorted(before_freeze) == [("g1", 1), ("g2", 1)]
    assert account_a == [tap("g1", 2, account="a", minutes=1)]


batches = st.lists(
    st.lists(st.tuples(st.sampled_from(["g1", "g2"]), st.integers(1, 30)), max_size=20),
    min_size=1,
    max_size=6,
)


async def _reingest(db_url: str, uploads: list[list[tuple[str, int]]]) -> None:
    engine = create_engine(db_url)
    uow_factory = UnitOfWorkFactory(engine)
    prefix = f"{len(await stored(uow_factory))}-"  # fresh devices per example
    try:
        seen: set[tuple[str, int]] = set()
        for upload in uploads:
            taps = [tap(prefix + d, s, minutes=s) for d, s in upload]
            first = await ingest_taps(uow_factory, taps)
            new = {t.key for t in taps} - seen
            assert first.inserted == len(new)
            assert first.inserted + first.duplicates == len(taps)
            assert first.conflicts == ()
            seen |= new
            snapshot = await stored(uow_factory)
            again = await ingest_taps(uow_factory, list(reversed(taps)))
            assert again.inserted == 0
            assert await stored(uow_factory) == snapshot
        assert {t.key for t in await stored(uow_factory) if t.device_id.startswith(prefix)} == seen
    finally:
        await engine.dispose()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(uploads=batches)
def test_re_ingesting_any_batches_changes_nothing(
    db_url: str, uploads: list[list[tuple[str, int]]]
) -> None:
    asyncio.run(_reingest(db_url, uploads))


def test_a_tap_without_a_timezone_is_refused_with_our_error() -> None:
    with pytest.raises(NaiveTime):
        Tap("g1", 1, 7, "a", datetime(2026, 11, 24, 7, 30), "m2a", "m2a_01", TapKind.ENTRY)
    with pytest.raises(NaiveTime):
        service_day(datetime(2026, 11, 24, 7, 30))
