"""The faults a simulated city day must survive (issue 20): which are on, how strong, and a
record of when each struck and how it was handled.

Every kind is on by default in a reduced form (`REDUCED`); `Faults.parse` reads the demo's
`--faults` flag:

    Faults.parse(None)                      # every kind, reduced
    Faults.parse("none")                    # none
    Faults.parse("all,-backend_restart")    # every kind but one
    Faults.parse("gate_killed,gateway_500=0.1")   # only these, one with its own dose

A kind's dose is what the reduced form means for it: a number of times for the faults that
strike once each (a gate killed, a batch cut), a share for the ones that strike per request or
per device (gateway 500s: the share of payment requests whose first attempt fails; clock skew:
the share of gates and phones off by `CLOCK_SKEW`). The summary prints `strikes`; the demo's
`--json` `faults` is `counts()`.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from simulators.errors import FaultSpecError

CLOCK_SKEW = timedelta(seconds=40)  # the issue's ±40 s, on gates and phones
SUMMARY_PER_KIND = 3  # strikes of one kind the summary lists before counting the rest


class FaultKind(enum.StrEnum):
    GATE_OFFLINE = "gate_offline"  # gates journal for hours without uploading
    GATE_KILLED = "gate_killed"  # a gate process dies between journaling and upload
    BATCH_TWICE = "batch_twice"  # a journal batch uploaded twice
    BATCH_CUT = "batch_cut"  # a batch cut off part-way (the device sees no answer)
    CLOCK_SKEW = "clock_skew"  # gates and phones off by ±CLOCK_SKEW
    STATION_REDIS_DOWN = "station_redis_down"  # a station's shared replay memory unreachable
    BACKEND_RESTART = "backend_restart"  # `faregate serve` restarted mid-day
    GATEWAY_500 = "gateway_500"  # the card gateway answers 500
    GATEWAY_TIMEOUT = "gateway_timeout"  # the card gateway answers too late
    CARD_DECLINED = "card_declined"  # a card refused at the gateway
    LATE_TAPS = "late_taps"  # taps arriving after their day settled
    UNKNOWN_CREDENTIAL = "unknown_credential"  # a credential the backend never issued


# Shares per request or per device; every other kind's dose is a number of strikes.
SHARE_KINDS = frozenset(
    {
        FaultKind.GATE_OFFLINE,
        FaultKind.CLOCK_SKEW,
        FaultKind.GATEWAY_500,
        FaultKind.GATEWAY_TIMEOUT,
        FaultKind.CARD_DECLINED,
    }
)

REDUCED: Mapping[FaultKind, float] = {
    FaultKind.GATE_OFFLINE: 0.1,
    FaultKind.GATE_KILLED: 1,
    FaultKind.BATCH_TWICE: 1,
    FaultKind.BATCH_CUT: 1,
    FaultKind.CLOCK_SKEW: 0.05,
    FaultKind.STATION_REDIS_DOWN: 1,
    FaultKind.BACKEND_RESTART: 1,
    FaultKind.GATEWAY_500: 0.02,
    # Each timeout costs the gateway client its whole timeout: a few, not a share of many.
    FaultKind.GATEWAY_TIMEOUT: 0.005,
    FaultKind.CARD_DECLINED: 0.02,
    FaultKind.LATE_TAPS: 1,
    FaultKind.UNKNOWN_CREDENTIAL: 1,
}


@dataclass(frozen=True, slots=True)
class Strike:
    """One fault that struck: when (simulated time, when there is one), what and how the
    system handled it."""

    kind: FaultKind
    what: str
    handled: str
    at: datetime | None = None


@dataclass
class Faults:
    """The faults switched on, each with its dose, and the strikes recorded so far."""

    doses: dict[FaultKind, float] = field(default_factory=lambda: dict(REDUCED))
    strikes: list[Strike] = field(default_factory=list)

    @classmethod
    def none(cls) -> Faults:
        return cls(doses={})

    @classmethod
    def parse(cls, spec: str | None) -> Faults:
        """The faults a `--faults` value names (None: every kind, reduced): comma-separated
        `all`, `none`, `KIND`, `KIND=DOSE` or `-KIND`, applied left to right."""
        doses: dict[FaultKind, float] = dict(REDUCED)
        if spec is None:
            return cls(doses)
        items = [item.strip() for item in spec.split(",") if item.strip()]
        if items and not items[0].startswith("-") and items[0] not in ("all", "none"):
            doses = {}  # a list of kinds means only those
        for item in items:
            if item == "all":
                doses = dict(REDUCED)
            elif item == "none":
                doses = {}
            elif item.startswith("-"):
                doses.pop(_kind(item[1:]), None)
            else:
                name, _, dose = item.partition("=")
                kind = _kind(name)
                doses[kind] = _dose(kind, dose) if dose else REDUCED[kind]
        return cls(doses)

    def on(self, kind: FaultKind) -> bool:
        return self.doses.get(kind, 0) > 0

    def dose(self, kind: FaultKind) -> float:
        """The kind's dose (0 when it is off)."""
        return self.doses.get(kind, 0)

    def times(self, kind: FaultKind) -> int:
        """How many times a kind that strikes once each is to strike (0 when it is off)."""
        if kind in SHARE_KINDS:
            raise FaultSpecError(f"{kind} is dosed as a share, not a number of times")
        return int(self.dose(kind))

    def struck(
        self, kind: FaultKind, what: str, handled: str, at: datetime | None = None
    ) -> Strike:
        """Record that `kind` struck; a kind switched off cannot strike (a bug in the caller)."""
        if not self.on(kind):
            raise FaultSpecError(f"{kind} struck but is switched off")
        strike = Strike(kind, what, handled, at)
        self.strikes.append(strike)
        return strike

    def extend(self, strikes: Iterable[Strike]) -> None:
        """Strikes recorded elsewhere (another process, a component's own record)."""
        for strike in strikes:
            self.struck(strike.kind, strike.what, strike.handled, strike.at)

    def counts(self) -> dict[str, int]:
        """{kind: strikes} for every kind switched on (0 for one that never struck), the
        demo's `--json` `faults`."""
        struck = Counter(strike.kind for strike in self.strikes)
        return {kind.value: struck[kind] for kind in FaultKind if self.on(kind)}

    def summary(self, *, per_kind: int = SUMMARY_PER_KIND) -> list[str]:
        """One line per strike in time order (at most `per_kind` of a kind, then how many
        more), then the kinds switched on that never struck."""
        ordered = sorted(
            self.strikes, key=lambda s: (s.at is None, s.at.timestamp() if s.at else 0.0)
        )
        first = next((s.at.date() for s in ordered if s.at is not None), None)
        shown: Counter[FaultKind] = Counter()
        lines = []
        for s in ordered:
            shown[s.kind] += 1
            if shown[s.kind] <= per_kind:
                when = "--:--:--" if s.at is None else s.at.strftime("%H:%M:%S")
                if s.at is not None and first is not None and s.at.date() != first:
                    when += f" +{(s.at.date() - first).days}d"  # past the first strike's day
                lines.append(f"{when}  {s.kind}: {s.what} -> {s.handled}")
        counts = self.counts()
        lines += [
            f"{kind}: {counts[kind] - per_kind} more like these"
            for kind in sorted(shown)
            if counts[kind] > per_kind
        ]
        lines += [f"{kind}: on, never struck" for kind, n in counts.items() if n == 0]
        return lines


def _kind(name: str) -> FaultKind:
    try:
        return FaultKind(name.strip())
    except ValueError:
        known = ", ".join(kind.value for kind in FaultKind)
        raise FaultSpecError(f"unknown fault {name.strip()!r} (known: {known})") from None


def _dose(kind: FaultKind, text: str) -> float:
    try:
        dose = float(text)
    except ValueError:
        raise FaultSpecError(f"{kind}: dose must be a number, got {text!r}") from None
    if not math.isfinite(dose):
        raise FaultSpecError(f"{kind}: dose must be a finite number, got {text}")
    if kind in SHARE_KINDS and not 0 <= dose <= 1:
        raise FaultSpecError(f"{kind}: dose is a share, 0..1, got {text}")
    if kind not in SHARE_KINDS and (dose < 0 or dose != int(dose)):
        raise FaultSpecError(f"{kind}: dose is a number of times, got {text}")
    return dose
