"""Gates of one station sharing their replay and passback memory through the station's Redis.

A gate alone remembers only the codes it accepted itself, so a screenshot of a code passed to
a friend at the next gate of the same station is accepted there. Gates of one station therefore
keep the last accepted use of each credential in the station's Redis (`RedisStationMemory`):
before deciding, a gate reads the station's last use of the token's credential and decides
with the later of it and its own; once it accepts, it claims the use in Redis atomically (a
Lua script), so of two gates accepting the same code at the same moment only one wins and the
other refuses it as the verifier would have.

When the station's Redis cannot be reached, each gate falls back to its own memory: the
passenger is never held up by a broken link, and the decisions taken so are recorded in a
`StationGap` (from when, until when, which accepted records) that the gate reports as a fault
in its heartbeat, so whoever settles the day can look at them. `StationLink` is a TCP relay in
front of a Redis server that the demo and the tests cut and restore: a real outage of one
station's link, with the real client's errors, while the Redis server itself stays up.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from qr.decision import Decision, Reason
from qr.decode import decode_image
from qr.errors import ImageDecodeError
from qr.memory import GateMemory, LastUse
from qr.timeutil import require_aware
from qr.token import parse_token
from simulators.gate import OfflineGate

FAULT_CODE = "station_memory.down"  # the heartbeat fault of a gate deciding on its own memory

# Compare and record in one step: refuse as the verifier would (replayed: a step not after the
# last one; passback: too soon after it), else record this use.
_CLAIM = """
local last = redis.call('HMGET', KEYS[1], 'step', 'at', 'gate')
if last[1] then
  if tonumber(ARGV[1]) <= tonumber(last[1]) then return {'replayed', last[3]} end
  if tonumber(ARGV[2]) - tonumber(last[2]) < tonumber(ARGV[4]) then
    return {'passback', last[3]}
  end
end
redis.call('HSET', KEYS[1], 'step', ARGV[1], 'at', ARGV[2], 'gate', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {'accepted', ARGV[3]}
"""


class StationMemory(Protocol):
    """The replay/passback memory the gates of one station share. Both methods raise
    `redis.exceptions.RedisError` (or OSError) when the memory cannot be reached."""

    station_id: str

    async def last_use(self, credential_id: int) -> LastUse | None: ...

    async def claim(
        self, credential_id: int, use: LastUse, *, passback_seconds: float, keep_seconds: float
    ) -> Reason | None:
        """Record `use` unless the station's last use refuses it; the refusal, or None."""
        ...


class RedisStationMemory:
    """A station's memory in Redis: one hash per credential under `prefix`, kept
    `keep_seconds` after its last use (the verifier's `keep_seconds`)."""

    def __init__(self, redis: Redis, station_id: str, *, prefix: str = "faregate:station") -> None:
        self.station_id = station_id
        self._redis = redis
        self._prefix = f"{prefix}:{station_id}:use:"
        self._claim = redis.register_script(_CLAIM)

    @classmethod
    def connect(
        cls, url: str, station_id: str, *, prefix: str = "faregate:station"
    ) -> RedisStationMemory:
        """A memory on its own client to `url`: short timeouts and no retries, since a gate
        must not keep a passenger waiting on a station link that is down."""
        redis = Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )
        return cls(redis, station_id, prefix=prefix)

    def _key(self, credential_id: int) -> str:
        return f"{self._prefix}{credential_id}"

    async def last_use(self, credential_id: int) -> LastUse | None:
        step, at, gate = await self._redis.hmget(self._key(credential_id), ["step", "at", "gate"])
        if step is None or at is None or gate is None:
            return None
        return LastUse(int(step), float(at), gate.decode() if isinstance(gate, bytes) else gate)

    async def claim(
        self, credential_id: int, use: LastUse, *, passback_seconds: float, keep_seconds: float
    ) -> Reason | None:
        answer = await self._claim(
            keys=[self._key(credential_id)],
            args=[use.step, repr(use.at), use.gate_id, passback_seconds,
                  max(int(keep_seconds * 1000), 1)],
        )  # fmt: skip
        outcome = Reason(answer[0].decode())
        return None if outcome is Reason.ACCEPTED else outcome

    async def aclose(self) -> None:
        await self._redis.aclose()


@dataclass
class StationGap:
    """A stretch of time a gate decided on its own memory because the station's was
    unreachable: the records it accepted then are the ones a shared code may hide among."""

    station_id: str
    gate_id: str
    since: datetime
    error: str
    until: datetime | None = None
    accepted_seqs: list[int] = field(default_factory=list)
    reported: bool = False  # in a heartbeat already

    def as_fault(self) -> dict[str, str]:
        """The gap as a heartbeat fault (docs/DEVICE-API.md)."""
        return {
            "code": FAULT_CODE,
            "detail": f"station {self.station_id} memory unreachable: {self.error}"[:200],
            "since": self.since.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class StationDecision:
    """The gate's decision, its journal sequence number, and whether it was taken on the
    gate's own memory alone (the station's unreachable)."""

    decision: Decision
    seq: int
    alone: bool


class StationGate:
    """An offline gate deciding with its station's shared memory (falling back to its own)."""

    def __init__(self, gate: OfflineGate, station: StationMemory) -> None:
        self.gate = gate
        self.station = station
        self.gaps: list[StationGap] = []

    @property
    def open_gap(self) -> StationGap | None:
        return self.gaps[-1] if self.gaps and self.gaps[-1].until is None else None

    async def present_text(self, token: str | bytes, at: datetime | None = None) -> StationDecision:
        gate = self.gate
        when = require_aware(at, "gate time") if at is not None else gate.clock()
        parsed = parse_token(token)
        if parsed is None:  # nothing to look up: the verifier refuses it as malformed
            return self._journal(when, gate.verifier.verify(token, at=when, gate=gate.context))
        credential_id = parsed.fields.credential_id
        try:
            shared = await self.station.last_use(credential_id)
        except (RedisError, OSError) as error:
            return self._alone(token, when, error)
        decision = gate.verifier.verify(
            token, at=when, gate=gate.context, memory=self._view(credential_id, shared)
        )
        if decision.accepted and decision.step is not None:
            use = LastUse(decision.step, when.timestamp(), gate.device_id)
            try:
                refused = await self.station.claim(
                    credential_id, use, passback_seconds=gate.verifier.policy.passback_seconds,
                    keep_seconds=gate.verifier.keep_seconds(),
                )  # fmt: skip
            except (RedisError, OSError) as error:
                return self._alone(token, when, error)
            if refused is not None:  # another gate of the station won the race for this code
                decision = replace(
                    decision, accepted=False, reason=refused,
                    detail="another gate of this station accepted it first",
                )  # fmt: skip
            else:
                gate.memory.record(credential_id, use.step, use.at, use.gate_id)
        if (gap := self.open_gap) is not None:
            gap.until = when
        return self._journal(when, decision)

    async def present_image(
        self, image: Path | bytes, at: datetime | None = None
    ) -> StationDecision:
        """Scan a QR image as the gate's camera would; an unreadable image is refused."""
        try:
            text = decode_image(image)
        except ImageDecodeError as error:
            when = require_aware(at, "gate time") if at is not None else self.gate.clock()
            refused = Decision(False, Reason.MALFORMED, str(error), gate_id=self.gate.device_id)
            return self._journal(when, refused)
        return await self.present_text(text, at)

    def heartbeat_faults(self) -> list[dict[str, str]]:
        """The station-memory fault for the next heartbeat: sent while the memory is down,
        and once for a gap that began and ended since the last heartbeat (a heartbeat names
        each fault code once: the earliest such gap)."""
        due = [gap for gap in self.gaps if gap.until is None or not gap.reported]
        for gap in due:
            gap.reported = True
        return [due[0].as_fault()] if due else []

    def _view(self, credential_id: int, shared: LastUse | None) -> GateMemory:
        """The memory to decide with: the later of the station's and the gate's own last use
        (the gate's is later when it accepted the credential while the station was down)."""
        own = self.gate.memory.last_use(credential_id)
        uses = [u for u in (shared, own) if u is not None]
        if not uses:
            return GateMemory()
        return GateMemory({credential_id: max(uses, key=lambda u: (u.step, u.at))})

    def _alone(self, token: str | bytes, when: datetime, error: Exception) -> StationDecision:
        gap = self.open_gap
        if gap is None:
            gap = StationGap(
                self.station.station_id, self.gate.device_id, when, f"{type(error).__name__}"
            )
            self.gaps.append(gap)
        gate = self.gate
        decision = gate.verifier.verify(token, at=when, gate=gate.context, memory=gate.memory)
        result = self._journal(when, decision, alone=True)
        if decision.accepted:
            gap.accepted_seqs.append(result.seq)
        return result

    def _journal(
        self, when: datetime, decision: Decision, *, alone: bool = False
    ) -> StationDecision:
        seq = self.gate.journal.append(self.gate.device_id, when, decision)
        return StationDecision(decision, seq, alone)


class StationLink:
    """A TCP relay standing for the network between a station's gates and its Redis, which a
    fault cuts (every open connection closed, new ones refused) and restores.

        link = StationLink("redis://127.0.0.1:6379/0")
        await link.start()
        memory = RedisStationMemory.connect(link.url, "m2a_03")
        link.cut(); ...; await link.restore()
    """

    def __init__(self, upstream_url: str) -> None:
        parts = urlsplit(upstream_url)
        self._unix = parts.path if parts.scheme == "unix" else None
        self._host = parts.hostname or "127.0.0.1"
        self._upstream_port = parts.port or 6379
        self._database = parts.path.lstrip("/") if parts.scheme != "unix" else ""
        self._server: asyncio.Server | None = None
        self._port = 0
        self._writers: set[asyncio.StreamWriter] = set()
        self.cuts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self._port}/{self._database or 0}"

    @property
    def up(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Listen (on a free port the first time, on the same port after a cut)."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", self._port)
        self._port = self._server.sockets[0].getsockname()[1]

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    def cut(self) -> None:
        """Close every open connection and stop listening: clients see the link down."""
        if self._server is None:
            return
        self._server.close()
        self._server = None
        self.cuts += 1
        for writer in list(self._writers):
            writer.transport.abort()

    async def aclose(self) -> None:
        self.cut()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if self._unix is not None:
                up_reader, up_writer = await asyncio.open_unix_connection(self._unix)
            else:
                up_reader, up_writer = await asyncio.open_connection(
                    self._host, self._upstream_port
                )
        except OSError:
            writer.transport.abort()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        finally:
            self._writers.difference_update((writer, up_writer))
            for w in (writer, up_writer):
                w.transport.abort()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    writer.transport.abort()  # one side gone: the other goes too, as a cut cable does


@dataclass
class LinkOutage:
    """A station's link to its Redis cut from `start` to `end` (simulated time)."""

    station_id: str
    link: StationLink
    start: datetime
    end: datetime

    async def reach(self, when: datetime) -> None:
        """The day has reached `when`: the link is cut inside the window, restored after it."""
        if self.start <= when < self.end:
            self.link.cut()
        elif when >= self.end:
            await self.link.restore()
