"""Live occupancy per lot in Redis: counted on entry and exit, corrected from the sessions.

Each lot is one Redis hash `<prefix>lot:<lot_id>` with `capacity`, `reserved` (spaces kept
for holders of a reserved right: season tickets, disabled badges) and `occupied`. Entry and
exit run as Lua scripts, so the check and the change are one atomic step even with many
barriers and backend workers at once:

- an ordinary entry is admitted while occupied < capacity - reserved;
- an entry with a reserved right is admitted while occupied < capacity;
- an exit never takes the count below 0 (an exit whose entry was made offline).

Redis holds a live estimate, not the truth: the sessions in the database are. When a
barrier comes back online and its journal has been uploaded, `correct` sets the count to
the number of open sessions, so the two converge. The client is injected (`REDIS_URL` or
the private server the app starts); this module never opens a connection itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from parking.errors import OccupancyError

DEFAULT_PREFIX = "faregate:parking:"

# KEYS[1] lot hash; ARGV[1] "1" for a reserved right. Returns {admitted 0/1, occupied};
# {-1, 0} when the lot is not configured.
_ENTER = """
local capacity = tonumber(redis.call('HGET', KEYS[1], 'capacity'))
if not capacity then return {-1, 0} end
local reserved = tonumber(redis.call('HGET', KEYS[1], 'reserved') or '0')
local occupied = tonumber(redis.call('HGET', KEYS[1], 'occupied') or '0')
local limit = capacity - reserved
if ARGV[1] == '1' then limit = capacity end
if occupied >= limit then return {0, occupied} end
return {1, redis.call('HINCRBY', KEYS[1], 'occupied', 1)}
"""

# KEYS[1] lot hash. Returns the new count; -1 when the lot is not configured.
_EXIT = """
if redis.call('HEXISTS', KEYS[1], 'capacity') == 0 then return -1 end
local occupied = tonumber(redis.call('HGET', KEYS[1], 'occupied') or '0')
if occupied <= 0 then
  redis.call('HSET', KEYS[1], 'occupied', 0)
  return 0
end
return redis.call('HINCRBY', KEYS[1], 'occupied', -1)
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class LotOccupancy:
    lot_id: str
    capacity: int
    reserved: int
    occupied: int

    @property
    def free_for_anyone(self) -> int:
        """Spaces an ordinary entry may still take."""
        return max(self.capacity - self.reserved - self.occupied, 0)

    @property
    def full(self) -> bool:
        return self.free_for_anyone == 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Admission:
    """Whether the occupancy lets a vehicle in, and the count after the decision."""

    admitted: bool
    occupied: int


class Occupancy:
    """Per-lot live counts in one Redis; every change is a single atomic script call."""

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self._enter = redis.register_script(_ENTER)
        self._exit = redis.register_script(_EXIT)

    def key(self, lot_id: str) -> str:
        return f"{self._prefix}lot:{lot_id}"

    async def configure(self, lot_id: str, *, capacity: int, reserved: int = 0) -> None:
        """Set a lot's capacity and reserved spaces (the count is kept, or starts at 0)."""
        if capacity < 1 or not 0 <= reserved <= capacity:
            raise OccupancyError(
                f"lot {lot_id}: capacity must be >= 1 and reserved within 0..capacity,"
                f" got capacity={capacity} reserved={reserved}"
            )
        key = self.key(lot_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"capacity": capacity, "reserved": reserved})
            pipe.hsetnx(key, "occupied", 0)
            await pipe.execute()

    async def enter(self, lot_id: str, *, reserved_right: bool = False) -> Admission:
        """Count one vehicle in if there is room for it; a full lot refuses."""
        admitted, occupied = await self._enter(
            keys=[self.key(lot_id)], args=["1" if reserved_right else "0"]
        )
        if int(admitted) < 0:
            raise OccupancyError(f"lot {lot_id} has no occupancy configured")
        return Admission(admitted=bool(int(admitted)), occupied=int(occupied))

    async def exit(self, lot_id: str) -> int:
        """Count one vehicle out; returns the new count (never below 0)."""
        occupied = int(await self._exit(keys=[self.key(lot_id)]))
        if occupied < 0:
            raise OccupancyError(f"lot {lot_id} has no occupancy configured")
        return occupied

    async def snapshot(self, lot_id: str) -> LotOccupancy:
        values = await self._redis.hgetall(self.key(lot_id))
        fields = {_text(name): int(value) for name, value in values.items()}
        if "capacity" not in fields:
            raise OccupancyError(f"lot {lot_id} has no occupancy configured")
        return LotOccupancy(
            lot_id=lot_id,
            capacity=fields["capacity"],
            reserved=fields.get("reserved", 0),
            occupied=fields.get("occupied", 0),
        )

    async def correct(self, lot_id: str, open_sessions: int) -> LotOccupancy:
        """Set the count to the authoritative number of open sessions (after a resync)."""
        if open_sessions < 0:
            raise OccupancyError(f"lot {lot_id}: open sessions cannot be {open_sessions}")
        key = self.key(lot_id)
        if not await self._redis.hexists(key, "capacity"):
            raise OccupancyError(f"lot {lot_id} has no occupancy configured")
        await self._redis.hset(key, "occupied", open_sessions)
        return await self.snapshot(lot_id)

    async def forget(self, lot_id: str) -> None:
        """Remove a lot's counters (a lot closed for good; tests)."""
        await self._redis.delete(self.key(lot_id))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
