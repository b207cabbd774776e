"""The versioned deny list of revoked credential ids, and the deltas gates sync it with.

A delta takes the list from `from_version` to `to_version` (later): remove `removed`, then add
`added`. Deltas apply only in order: one starting after the list's version means some are
missing (DenyListGapError); one starting before it was already applied or arrives out of order
(DenyListOrderError). Either way the list is left unchanged.

Credential ids travel as decimal strings ("18446744073709551615"): ids above 2**53 are not
safe as JSON numbers in JavaScript or any double-based parser. A reader also takes numbers
(documents written before ids were strings).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from qr.credential import MAX_CREDENTIAL_ID
from qr.errors import DenyListError, DenyListGapError, DenyListOrderError
from qr.jsonfile import read_json
from qr.timeutil import isoformat_z, parse_instant

DENY_LIST_FORMAT = "faregate-deny-list/1"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,19}")
DENY_DELTA_FORMAT = "faregate-deny-delta/1"


@dataclass(frozen=True, slots=True)
class DenyListDelta:
    from_version: int
    to_version: int
    added: frozenset[int]
    removed: frozenset[int]
    issued_at: datetime | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.from_version < self.to_version:
            raise DenyListError(
                f"delta must go to a later version ({self.from_version} -> {self.to_version})"
            )
        if self.added & self.removed:
            raise DenyListError("a delta cannot both add and remove one credential id")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DENY_DELTA_FORMAT,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "added": [str(i) for i in sorted(self.added)],
            "removed": [str(i) for i in sorted(self.removed)],
            "issued_at": None if self.issued_at is None else isoformat_z(self.issued_at),
        }

    @classmethod
    def from_json(cls, doc: object) -> DenyListDelta:
        if not isinstance(doc, dict):
            raise DenyListError("a deny-list delta must be a JSON object")
        try:
            return cls(
                from_version=_version(doc["from_version"]),
                to_version=_version(doc["to_version"]),
                added=_ids(doc.get("added", [])),
                removed=_ids(doc.get("removed", [])),
                issued_at=_issued_at(doc.get("issued_at")),
            )
        except KeyError as exc:
            raise DenyListError(f"deny-list delta lacks {exc}") from exc


@dataclass(frozen=True, slots=True)
class DenyList:
    version: int
    ids: frozenset[int]
    issued_at: datetime | None = None  # when the backend published this version

    def __contains__(self, credential_id: object) -> bool:
        return credential_id in self.ids

    def apply(self, delta: DenyListDelta) -> DenyList:
        if delta.from_version > self.version:
            raise DenyListGapError(
                f"deny-list delta {delta.from_version}->{delta.to_version} does not follow "
                f"version {self.version}: deltas {self.version}->{delta.from_version} are missing"
            )
        if delta.from_version < self.version:
            raise DenyListOrderError(
                f"deny-list delta {delta.from_version}->{delta.to_version} is out of order: "
                f"the list is already at version {self.version}"
            )
        return DenyList(delta.to_version, (self.ids - delta.removed) | delta.added, delta.issued_at)

    def apply_all(self, deltas: Iterable[DenyListDelta]) -> DenyList:
        result = self
        for delta in deltas:
            result = result.apply(delta)
        return result

    def delta_to(self, newer: DenyList) -> DenyListDelta:
        """The delta that takes this list to `newer` (what the backend sends a gate)."""
        return DenyListDelta(
            self.version, newer.version, newer.ids - self.ids, self.ids - newer.ids, newer.issued_at
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "format": DENY_LIST_FORMAT,
            "version": self.version,
            "ids": [str(i) for i in sorted(self.ids)],
            "issued_at": None if self.issued_at is None else isoformat_z(self.issued_at),
        }

    @classmethod
    def from_json(cls, doc: object) -> DenyList:
        """A deny-list document, or a bare JSON list of ids (taken as version 0)."""
        if isinstance(doc, list):
            return cls(0, _ids(doc))
        if not isinstance(doc, dict):
            raise DenyListError("a deny list must be a JSON list of ids or a deny-list document")
        try:
            return cls(_version(doc["version"]), _ids(doc["ids"]), _issued_at(doc.get("issued_at")))
        except KeyError as exc:
            raise DenyListError(f"deny-list document lacks {exc}") from exc

    @classmethod
    def load(cls, path: Path) -> DenyList:
        return cls.from_json(read_json(path, DenyListError))


EMPTY_DENY_LIST = DenyList(0, frozenset())


def _version(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise DenyListError(f"deny-list version must be a non-negative integer, got {value!r}")
    return value


def _id(value: object) -> int:
    if isinstance(value, str) and _DECIMAL.fullmatch(value):
        number = int(value)
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = -1
    if not 0 <= number <= MAX_CREDENTIAL_ID:
        raise DenyListError(
            f"deny-list id must be an unsigned 64-bit integer as a decimal string, got {value!r}"
        )
    return number


def _ids(values: object) -> frozenset[int]:
    if not isinstance(values, list):
        raise DenyListError("deny-list ids must be a JSON list")
    return frozenset(_id(v) for v in values)


def _issued_at(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise DenyListError(f"issued_at must be an ISO 8601 time, got {value!r}")
    return parse_instant(value, "deny-list issued_at")
