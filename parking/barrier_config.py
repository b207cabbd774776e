"""What a barrier is told when it syncs (pure values; the device API sends them as JSON).

`BarrierConfiguration` is the lot as configured (capacity, reserved spaces, anti-passback,
currency), the tariff versions the barrier needs to price offline: the one in force when the
lot's oldest open stay entered, every one since, and those scheduled (so a barrier that is
offline when a new version comes into force prices the entries after it with that version,
and stays entered before it with the version of their entry), the lot's permits that have
not ended (this month's and those sold for coming months), and, for one barrier, the remote
opens asked of it and not yet done (it does each once, by its journal, and says so when its
journal goes up). `as_json` is the document the
device API serves and `from_json` reads it back: one definition of that format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from parking.errors import BarrierConfigurationError
from parking.permit import Permit, permit_for
from parking.records import BarrierCommand, LotConfig, LotKind
from parking.tariff import Tariff
from parking.tariff_versions import TariffVersion, digest, in_force, parsed, upcoming


@dataclass(frozen=True, slots=True, kw_only=True)
class SyncedTariff:
    """A scheduled tariff version as a barrier holds it."""

    version: int
    effective_from: datetime
    document: str

    scheduled = True  # a barrier is sent scheduled versions only

    @classmethod
    def of(cls, version: TariffVersion) -> SyncedTariff:
        if version.effective_from is None or not version.scheduled:
            raise BarrierConfigurationError(f"version {version.version} is not scheduled")
        return cls(
            version=version.version,
            effective_from=version.effective_from,
            document=version.document,
        )

    @property
    def tariff(self) -> Tariff:
        return parsed(self.document, f"v{self.version}")

    @property
    def digest(self) -> str:
        return digest(self.document)


@dataclass(frozen=True, slots=True, kw_only=True)
class BarrierConfiguration:
    """A lot's configuration for its barriers as of `as_of`."""

    lot: LotConfig
    as_of: datetime
    tariffs: tuple[SyncedTariff, ...]  # in the order they come into force
    permits: tuple[Permit, ...] = ()
    commands: tuple[BarrierCommand, ...] = ()  # the syncing barrier's remote opens to do

    def permit_for(
        self, *, credential_id: int | None, plate: str | None, at: datetime
    ) -> Permit | None:
        """The permit that lets this credential or plate in at `at`, if any."""
        return permit_for(
            self.permits, self.lot.lot_id, credential_id=credential_id, plate=plate, at=at
        )

    def tariff_for_entry(self, at: datetime) -> SyncedTariff:
        """The version that prices a stay entered at `at` (`parking.tariff_versions`)."""
        return in_force(self.tariffs, at)

    @property
    def in_force(self) -> SyncedTariff:
        return in_force(self.tariffs, self.as_of)

    @property
    def next(self) -> SyncedTariff | None:
        """The version scheduled next, if any: the barrier has it before it applies."""
        coming = upcoming(self.tariffs, self.as_of)
        return coming[0] if coming else None

    def as_json(self) -> dict[str, Any]:
        lot = self.lot
        return {
            "as_of": self.as_of.isoformat(),
            "lot": {
                "lot_id": lot.lot_id,
                "name": lot.name,
                "operator": lot.operator,
                "kind": lot.kind.value,
                "capacity": lot.capacity,
                "reserved": lot.reserved,
                "passback": lot.passback,
                "hold": lot.hold_amount,
                "currency": lot.currency,
            },
            "tariff_in_force": self.in_force.version,
            "tariff_next": None if self.next is None else self.next.version,
            "tariffs": [
                {
                    "version": t.version,
                    "effective_from": t.effective_from.isoformat(),
                    "digest": t.digest,
                    "document": t.document,
                }
                for t in self.tariffs
            ],
            "permits": [
                {
                    "permit_id": p.permit_id,
                    "month": p.month.isoformat(),
                    "valid_from": p.valid_from.isoformat(),
                    "valid_until": p.valid_until.isoformat(),
                    "plate": p.plate,
                    "credential_id": None if p.credential_id is None else str(p.credential_id),
                }
                for p in self.permits
            ],
            "commands": [
                {
                    "command_id": c.command_id,
                    "device_id": c.device_id,
                    "reason": c.reason,
                    "requested_by": c.requested_by,
                    "requested_at": c.requested_at.isoformat(),
                }
                for c in self.commands
            ],
        }

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> BarrierConfiguration:
        """Read `as_json`'s document back; BarrierConfigurationError if it is not one."""
        try:
            lot = document["lot"]
            config = LotConfig(
                lot_id=str(lot["lot_id"]),
                name=str(lot["name"]),
                operator=str(lot["operator"]),
                kind=LotKind(lot["kind"]),
                capacity=int(lot["capacity"]),
                reserved=int(lot["reserved"]),
                passback="soft" if lot["passback"] == "soft" else "hard",
                hold_amount=int(lot["hold"]),
                currency=str(lot["currency"]),
            )
            tariffs = tuple(
                SyncedTariff(
                    version=int(t["version"]),
                    effective_from=_aware(t["effective_from"]),
                    document=str(t["document"]),
                )
                for t in document["tariffs"]
            )
            as_of = _aware(document["as_of"])
            permits = tuple(
                Permit(
                    permit_id=str(p["permit_id"]),
                    lot_id=config.lot_id,
                    month=date.fromisoformat(str(p["month"])),
                    valid_from=_aware(p["valid_from"]),
                    valid_until=_aware(p["valid_until"]),
                    plate=None if p["plate"] is None else str(p["plate"]),
                    credential_id=None if p["credential_id"] is None else int(p["credential_id"]),
                    price=0,  # a barrier needs not know what was paid, nor by whom
                    currency=config.currency,
                    sold_at=as_of,
                    sold_by="",
                )
                for p in document["permits"]
            )
            commands = tuple(
                BarrierCommand(
                    command_id=str(c["command_id"]),
                    lot_id=config.lot_id,
                    device_id=str(c["device_id"]),
                    reason=str(c["reason"]),
                    requested_by=str(c["requested_by"]),
                    requested_at=_aware(c["requested_at"]),
                )
                for c in document["commands"]
            )
        except (KeyError, TypeError, ValueError) as error:
            raise BarrierConfigurationError(f"not a barrier configuration: {error!r}") from None
        if not tariffs:
            raise BarrierConfigurationError("a barrier configuration without a tariff")
        return cls(lot=config, as_of=as_of, tariffs=tariffs, permits=permits, commands=commands)


def _aware(text: object) -> datetime:
    at = datetime.fromisoformat(str(text))
    if at.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return at
