"""Tariff files: TOML documents read into `Tariff`, validated field by field.

A tariff file (all money in integer minor units of `currency`, all times local to `timezone`):

    id = "uk-dtro"                    # required
    name = "..."                      # required
    currency = "GBP"                  # required, ISO 4217
    timezone = "Europe/London"        # required, IANA name
    free_minutes = 0                  # a stay this short costs nothing
    grace_minutes = 10                # time to leave after paying
    lost_credential = 1000            # price when the entry cannot be found
    vehicles = ["car", "motorbike"]   # default for rate tables (absent: both classes)
    holidays = [2026-12-25]           # TOML dates

    [period]                          # optional
    reset = "02:00"
    maximum = 1000                    # optional

    [[rates]]
    name = "all day"
    vehicles = ["car"]                # optional, else the file's `vehicles`
    days = ["mon", "tue", "holiday"]  # optional, else every day and holidays
    start = "00:00"                   # optional; end "24:00"; start > end wraps midnight
    end = "24:00"
    [[rates.blocks]]
    type = "incrementing"             # flat | incrementing | tiered
    from = 0                          # minutes into the segment
    to = 120                          # optional for flat/incrementing on the last block
    unit = 60                         # incrementing: minutes per started unit
    amount = 200                      # flat, incrementing
    tiers = [{ up_to = 60, amount = 300 }]  # tiered: totals, the last up_to = to - from
    minimum = 0                       # optional, both
    maximum = 1000

Any error names the file, the field (e.g. `rates[0].blocks[1].unit`) and the reason. A
document with several errors raises `TariffErrors`, which lists each one found: every field
of the top level, of each rate table and of each block is checked on its own, so one mistake
does not hide the next (checks that need a part to be valid first, like blocks overlapping,
are skipped while that part has errors).
"""

from __future__ import annotations

import importlib.resources
import itertools
import re
import tomllib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from parking.errors import TariffError, TariffErrors, TariffPartRecorded
from parking.tariff import (
    ALL_DAYS,
    MINUTES_PER_DAY,
    VEHICLE_CLASSES,
    Block,
    Period,
    RateTable,
    Tariff,
    Tier,
)

TARIFF_SUFFIX = ".toml"

_TOP_KEYS = {
    "id", "name", "currency", "timezone", "free_minutes", "grace_minutes",
    "lost_credential", "vehicles", "holidays", "period", "rates",
}  # fmt: skip
_PERIOD_KEYS = {"reset", "maximum"}
_RATE_KEYS = {"name", "vehicles", "days", "start", "end", "blocks"}
_BLOCK_KEYS = {"type", "from", "to", "unit", "amount", "tiers", "minimum", "maximum"}
_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
T = TypeVar("T")


def shipped_tariff_dir() -> Path:
    """Where the tariffs Faregate ships live, installed or in a checkout (the one place)."""
    try:
        shipped = importlib.resources.files("faregate_data").joinpath("tariffs")
    except ModuleNotFoundError:
        # A checkout where data/ is not yet the faregate_data package.
        return Path(__file__).resolve().parent.parent / "data" / "tariffs"
    return Path(str(shipped))


def shipped_tariff_names() -> list[str]:
    return sorted(path.stem for path in shipped_tariff_dir().glob(f"*{TARIFF_SUFFIX}"))


def resolve_tariff(name_or_path: str) -> Path:
    """A tariff file: an existing path, else the shipped tariff of that name (`hanoi-car`)."""
    path = Path(name_or_path)
    if path.is_file():
        return path
    shipped = shipped_tariff_dir() / f"{name_or_path}{TARIFF_SUFFIX}"
    if "/" not in name_or_path and shipped.is_file():
        return shipped
    names = ", ".join(shipped_tariff_names())
    raise TariffError(name_or_path, "", f"no such file or shipped tariff (shipped: {names})")


def load_tariff(name_or_path: str | Path) -> Tariff:
    """Read and validate a tariff file (a path or a shipped tariff's name)."""
    path = resolve_tariff(str(name_or_path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TariffError(path.name, "", f"cannot read: {exc}") from None
    return parse_tariff(text, source=path.name)


def parse_tariff(text: str, *, source: str = "<tariff>") -> Tariff:
    """Validate a TOML tariff document; `source` names it in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TariffError(source, "", f"not TOML ({exc})") from None
    return _Reader(source).tariff(document)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[TariffError] = []

    def fail(self, field: str, reason: str) -> TariffError:
        return TariffError(self.source, field, reason)

    def attempt(self, check: Callable[..., T], *args: Any) -> T | None:
        """`check(*args)`, its error recorded instead of raised (None then)."""
        try:
            return check(*args)
        except TariffError as error:
            self.errors.append(error)
        except TariffPartRecorded:
            pass
        return None

    def tariff(self, doc: dict[str, Any]) -> Tariff:
        self.known_keys(doc, _TOP_KEYS, "")
        default_vehicles = self.attempt(self.vehicles, doc, "vehicles", frozenset(VEHICLE_CLASSES))
        period = self.attempt(self.period, doc["period"]) if "period" in doc else None
        rates_doc = doc.get("rates")
        rates: list[RateTable | None] = []
        if not isinstance(rates_doc, list) or not rates_doc:
            self.errors.append(self.fail("rates", "required: a non-empty list of [[rates]] tables"))
        else:
            rates = [
                self.attempt(
                    self.rate,
                    f"rates[{index}]",
                    item,
                    default_vehicles or frozenset(VEHICLE_CLASSES),
                )
                for index, item in enumerate(rates_doc)
            ]
        tariff_id = self.attempt(self.text, doc, "", "id")
        name = self.attempt(self.text, doc, "", "name")
        currency = self.attempt(self.currency, doc)
        zone = self.attempt(self.zone, doc)
        holidays = self.attempt(self.holidays, doc)
        free, grace, lost = (
            self.attempt(self.integer, doc, "", key, 0)
            for key in ("free_minutes", "grace_minutes", "lost_credential")
        )
        if self.errors:
            raise TariffErrors(self.errors) if len(self.errors) > 1 else self.errors[0]
        if tariff_id is None or name is None or currency is None or zone is None or not rates:
            raise AssertionError("a part without errors was not read")  # unreachable
        return Tariff(
            id=tariff_id,
            name=name,
            currency=currency,
            timezone=zone,
            rates=tuple(rate for rate in rates if rate is not None),
            period=period,
            holidays=holidays or frozenset(),
            free_minutes=free or 0,
            grace_minutes=grace or 0,
            lost_credential=lost or 0,
        )

    def currency(self, doc: dict[str, Any]) -> str:
        currency = self.text(doc, "", "currency")
        if not re.fullmatch(r"[A-Z]{3}", currency):
            raise self.fail("currency", f"expected an ISO 4217 code like 'VND', got {currency!r}")
        return currency

    def known_keys(self, doc: Any, allowed: set[str], where: str) -> None:
        """A table is expected (else that error); each unknown field is an error of its own."""
        if not isinstance(doc, dict):
            raise self.fail(where, "expected a table")
        for key in doc:
            if key not in allowed:
                self.errors.append(
                    self.fail(_join(where, key), f"unknown field (allowed: {sorted(allowed)})")
                )

    def text(self, doc: dict[str, Any], where: str, key: str) -> str:
        value = doc.get(key)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(_join(where, key), "required: a non-empty string")
        return value

    def integer(self, doc: dict[str, Any], where: str, key: str, default: int | None = None) -> int:
        field = _join(where, key)
        value = doc.get(key, default)
        if value is None:
            raise self.fail(field, "required: an integer")
        if type(value) is not int:
            raise self.fail(field, f"expected an integer (minor units or minutes), got {value!r}")
        if value < 0:
            raise self.fail(field, f"must not be negative, got {value}")
        return value

    def optional_integer(self, doc: dict[str, Any], where: str, key: str) -> int | None:
        return None if key not in doc else self.integer(doc, where, key)

    def zone(self, doc: dict[str, Any]) -> ZoneInfo:
        name = self.text(doc, "", "timezone")
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise self.fail("timezone", f"unknown IANA time zone {name!r}") from None

    def holidays(self, doc: dict[str, Any]) -> frozenset[date]:
        value = doc.get("holidays", [])
        if not isinstance(value, list):
            raise self.fail("holidays", "expected a list of TOML dates (2026-01-01)")
        for index, item in enumerate(value):
            if type(item) is not date:
                raise self.fail(f"holidays[{index}]", f"expected a TOML date, got {item!r}")
        return frozenset(value)

    def vehicles(self, doc: dict[str, Any], field: str, default: frozenset[str]) -> frozenset[str]:
        value = doc.get(field.rsplit(".", 1)[-1])
        if value is None:
            return default
        if not isinstance(value, list) or not value:
            raise self.fail(field, "expected a non-empty list of vehicle classes")
        for item in value:
            if item not in VEHICLE_CLASSES:
                raise self.fail(
                    field, f"unknown vehicle class {item!r} (known: {', '.join(VEHICLE_CLASSES)})"
                )
        return frozenset(value)

    def clock(self, doc: dict[str, Any], where: str, key: str, default: str) -> int:
        field = _join(where, key)
        value = doc.get(key, default)
        match = _CLOCK.match(value) if isinstance(value, str) else None
        if match is None:
            raise self.fail(field, f"expected a local time 'HH:MM', got {value!r}")
        minute = int(match[1]) * 60 + int(match[2])
        if minute > MINUTES_PER_DAY:
            raise self.fail(field, f"no such time of day {value!r}")
        return minute

    def period(self, doc: Any) -> Period:
        self.known_keys(doc, _PERIOD_KEYS, "period")
        if "reset" not in doc:
            raise self.fail("period.reset", "required: the local time the period restarts")
        reset = self.clock(doc, "period", "reset", "")
        if reset == MINUTES_PER_DAY:
            raise self.fail("period.reset", "use 00:00 for midnight")
        maximum = self.optional_integer(doc, "period", "maximum")
        if maximum == 0:
            raise self.fail("period.maximum", "a maximum of 0 would make every stay free")
        return Period(reset_minute=reset, maximum=maximum)

    def rate(self, where: str, doc: Any, default_vehicles: frozenset[str]) -> RateTable:
        self.known_keys(doc, _RATE_KEYS, where)
        name = self.attempt(self.text, doc, where, "name")
        days = self.attempt(self.days, where, doc.get("days"))
        window = self.attempt(self.window, where, doc)
        vehicles = self.attempt(self.vehicles, doc, f"{where}.vehicles", default_vehicles)
        blocks = self.attempt(self.blocks, where, doc.get("blocks"))
        if name is None or days is None or window is None or vehicles is None or blocks is None:
            raise TariffPartRecorded
        return RateTable(
            name=name,
            vehicles=vehicles,
            days=days,
            start_minute=window[0],
            end_minute=window[1],
            blocks=blocks,
        )

    def days(self, where: str, days_doc: Any) -> frozenset[str]:
        if days_doc is None:
            return ALL_DAYS
        if not isinstance(days_doc, list) or not days_doc:
            raise self.fail(f"{where}.days", "expected a non-empty list like ['mon', 'holiday']")
        for item in days_doc:
            if item not in ALL_DAYS:
                raise self.fail(f"{where}.days", f"unknown day {item!r} (mon..sun or holiday)")
        return frozenset(days_doc)

    def window(self, where: str, doc: dict[str, Any]) -> tuple[int, int]:
        start = self.clock(doc, where, "start", "00:00")
        end = self.clock(doc, where, "end", "24:00")
        if start == MINUTES_PER_DAY:
            raise self.fail(f"{where}.start", "a window cannot start at 24:00; use 00:00")
        if start == end:
            raise self.fail(f"{where}.end", "an empty window; 00:00 to 24:00 is the whole day")
        if start > end and end == MINUTES_PER_DAY:
            raise self.fail(f"{where}.end", "24:00 ends a window that starts the same day")
        return start, end

    def blocks(self, where: str, blocks_doc: Any) -> tuple[Block, ...]:
        if not isinstance(blocks_doc, list) or not blocks_doc:
            raise self.fail(f"{where}.blocks", "required: a non-empty list of [[rates.blocks]]")
        checked = [
            self.attempt(self.block, f"{where}.blocks[{index}]", item)
            for index, item in enumerate(blocks_doc)
        ]
        blocks = tuple(block for block in checked if block is not None)
        if len(blocks) < len(checked):
            raise TariffPartRecorded  # the order of blocks cannot be checked without all of them
        for index, (before, after) in enumerate(itertools.pairwise(blocks), 1):
            if before.end_minute is None:
                field = f"{where}.blocks[{index - 1}].to"
                raise self.fail(field, "only the last block may be open")
            if after.start_minute < before.end_minute:
                raise self.fail(
                    f"{where}.blocks[{index}].from",
                    f"overlaps the block before, which ends at {before.end_minute}",
                )
        return blocks

    def block(self, where: str, doc: Any) -> Block:
        self.known_keys(doc, _BLOCK_KEYS, where)
        kind = doc.get("type")
        if kind not in ("flat", "incrementing", "tiered"):
            raise self.fail(f"{where}.type", f"expected flat, incrementing or tiered, got {kind!r}")
        start = self.integer(doc, where, "from", default=0)
        end = self.optional_integer(doc, where, "to")
        if end is not None and end <= start:
            raise self.fail(f"{where}.to", f"must be after from ({start}), got {end}")
        minimum = self.optional_integer(doc, where, "minimum")
        maximum = self.optional_integer(doc, where, "maximum")
        if minimum is not None and maximum is not None and minimum > maximum:
            raise self.fail(f"{where}.minimum", f"{minimum} is above the maximum {maximum}")
        common: dict[str, Any] = {
            "start_minute": start,
            "end_minute": end,
            "minimum": minimum,
            "maximum": maximum,
        }
        if kind == "flat":
            self.unused(doc, where, ("unit", "tiers"))
            return Block(kind="flat", amount=self.integer(doc, where, "amount"), **common)
        if kind == "incrementing":
            self.unused(doc, where, ("tiers",))
            unit = self.integer(doc, where, "unit")
            if unit == 0:
                raise self.fail(f"{where}.unit", "must be at least 1 minute")
            amount = self.integer(doc, where, "amount")
            return Block(kind="incrementing", unit_minutes=unit, amount=amount, **common)
        self.unused(doc, where, ("unit", "amount"))
        if end is None:
            raise self.fail(f"{where}.to", "required for a tiered block (its last tier ends it)")
        tiers = self.tiers(where, doc.get("tiers"), end - start)
        return Block(kind="tiered", tiers=tiers, **common)

    def unused(self, doc: dict[str, Any], where: str, keys: tuple[str, ...]) -> None:
        for key in keys:
            if key in doc:
                raise self.fail(_join(where, key), f"not used by a {doc['type']} block")

    def tiers(self, where: str, doc: Any, length: int) -> tuple[Tier, ...]:
        if not isinstance(doc, list) or not doc:
            raise self.fail(f"{where}.tiers", "required: a list of {up_to, amount}")
        tiers: list[Tier] = []
        for index, item in enumerate(doc):
            field = f"{where}.tiers[{index}]"
            self.known_keys(item, {"up_to", "amount"}, field)
            tier = Tier(
                up_to_minutes=self.integer(item, field, "up_to"),
                amount=self.integer(item, field, "amount"),
            )
            if tiers and tier.up_to_minutes <= tiers[-1].up_to_minutes:
                raise self.fail(f"{field}.up_to", "tiers must end later one after another")
            if tiers and tier.amount < tiers[-1].amount:
                raise self.fail(f"{field}.amount", "a longer stay must not cost less")
            tiers.append(tier)
        if tiers[-1].up_to_minutes != length:
            raise self.fail(
                f"{where}.tiers[{len(tiers) - 1}].up_to",
                f"the last tier must end with the block (to - from = {length})",
            )
        return tuple(tiers)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
