"""Live occupancy in a real Redis: atomic entry/exit, a full lot, reserved rights, correction."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from parking.errors import OccupancyError
from parking.occupancy import Occupancy


@pytest.fixture
def occupancy(redis_client: Redis, key_prefix: str) -> Occupancy:
    return Occupancy(redis_client, prefix=key_prefix)


async def test_entry_and_exit_count(occupancy: Occupancy) -> None:
    await occupancy.configure("lot-a", capacity=3)
    assert (await occupancy.enter("lot-a")).occupied == 1
    assert (await occupancy.enter("lot-a")).occupied == 2
    assert await occupancy.exit("lot-a") == 1
    snapshot = await occupancy.snapshot("lot-a")
    assert (snapshot.capacity, snapshot.reserved, snapshot.occupied) == (3, 0, 1)
    assert snapshot.free_for_anyone == 2


async def test_a_full_lot_refuses_except_reserved_rights(occupancy: Occupancy) -> None:
    await occupancy.configure("lot-b", capacity=3, reserved=1)
    assert (await occupancy.enter("lot-b")).admitted
    assert (await occupancy.enter("lot-b")).admitted
    refused = await occupancy.enter("lot-b")
    assert (refused.admitted, refused.occupied) == (False, 2)
    assert (await occupancy.snapshot("lot-b")).full
    reserved = await occupancy.enter("lot-b", reserved_right=True)
    assert (reserved.admitted, reserved.occupied) == (True, 3)
    assert not (await occupancy.enter("lot-b", reserved_right=True)).admitted
    assert (await occupancy.snapshot("lot-b")).occupied == 3


async def test_concurrent_entries_never_overfill(occupancy: Occupancy) -> None:
    await occupancy.configure("lot-c", capacity=10)
    results = await asyncio.gather(*(occupancy.enter("lot-c") for _ in range(50)))
    assert sum(result.admitted for result in results) == 10
    assert (await occupancy.snapshot("lot-c")).occupied == 10


async def test_exit_never_goes_below_zero(occupancy: Occupancy) -> None:
    await occupancy.configure("lot-d", capacity=2)
    assert await occupancy.exit("lot-d") == 0
    assert await occupancy.exit("lot-d") == 0
    assert (await occupancy.snapshot("lot-d")).occupied == 0


async def test_correct_sets_the_authoritative_count(occupancy: Occupancy) -> None:
    await occupancy.configure("lot-e", capacity=5)
    await occupancy.enter("lot-e")
    # A barrier was offline: 3 more cars came in that Redis never saw; sessions say 4.
    corrected = await occupancy.correct("lot-e", 4)
    assert corrected.occupied == 4
    assert (await occupancy.enter("lot-e")).occupied == 5


async def test_reconfigure_keeps_the_count(occupancy: Occupancy) -> None:
    await occupancy.configure("lot-f", capacity=2)
    await occupancy.enter("lot-f")
    await occupancy.configure("lot-f", capacity=4, reserved=2)
    assert (await occupancy.snapshot("lot-f")).occupied == 1


async def test_unconfigured_lot_and_bad_values(occupancy: Occupancy) -> None:
    for call in (
        occupancy.enter("nowhere"),
        occupancy.exit("nowhere"),
        occupancy.snapshot("nowhere"),
        occupancy.correct("nowhere", 1),
    ):
        with pytest.raises(OccupancyError, match="nowhere has no occupancy configured"):
            await call
    with pytest.raises(OccupancyError, match="capacity must be"):
        await occupancy.configure("lot-g", capacity=0)
    with pytest.raises(OccupancyError, match="capacity must be"):
        await occupancy.configure("lot-g", capacity=2, reserved=3)
    await occupancy.configure("lot-g", capacity=2)
    with pytest.raises(OccupancyError, match="cannot be -1"):
        await occupancy.correct("lot-g", -1)


async def test_keys_stay_under_the_prefix(
    occupancy: Occupancy, redis_client: Redis, key_prefix: str
) -> None:
    await occupancy.configure("lot-h", capacity=1)
    keys = [key async for key in redis_client.scan_iter(match=f"{key_prefix}*")]
    assert keys == [f"{key_prefix}lot:lot-h".encode()]
    await occupancy.forget("lot-h")
    assert not await redis_client.exists(f"{key_prefix}lot:lot-h")
