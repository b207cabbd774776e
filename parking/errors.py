"""The one exception hierarchy of `parking`: all it raises on bad input derives from ParkingError.

ParkingError
├── TariffError          a tariff file or document is missing, malformed or inconsistent;
│                        names the file, the field and the reason
├── QuoteError           a stay the tariff cannot price: exit before entry, a naive or
│   │                    malformed time
│   └── UnknownVehicleClass  a vehicle class that is not `car`/`motorbike`, or that the
│                            tariff does not price
├── SessionError         a session event that contradicts the session (exit of a closed
│                        session, payment on an unpaid-for case)
├── OccupancyError       a lot's live occupancy cannot be read or corrected (unknown lot,
│                        a capacity below zero)
├── LotsFileError        a lots file is missing or malformed (file, field, reason)
├── UnknownLot           a lot, session or receipt not on record
├── NoTariff             a lot with no tariff scheduled (nothing can price its stays)
└── BarrierUploadError   a barrier upload that cannot be applied (nothing was)

Policy refusals (anti-passback, a full lot) are not errors: they are decisions returned as
values, like the gate's refused `Decision`.
"""

from __future__ import annotations


class ParkingError(Exception):
    """Base of every error `parking` raises for bad input."""


class TariffError(ParkingError):
    """A tariff cannot be loaded: `file`, `field` and `reason` say where and why."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.field = field
        self.reason = reason


class QuoteError(ParkingError):
    """A stay that cannot be priced (exit before entry, a naive or malformed time)."""


class UnknownVehicleClass(QuoteError):
    """A vehicle class that does not exist, or that the tariff does not price."""


class SessionError(ParkingError):
    """A session event that contradicts the session's state."""


class OccupancyError(ParkingError):
    """A lot's live occupancy cannot be read, changed or corrected as asked."""


class LotsFileError(ParkingError):
    """A lots file is missing, malformed or names an unknown tariff: `file`, `field`, `reason`."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.field = field
        self.reason = reason


class UnknownLot(ParkingError):
    """A lot, session or receipt that is not on record."""


class NoTariff(ParkingError):
    """A lot with no tariff version scheduled: nothing can price its stays."""


class BarrierUploadError(ParkingError):
    """A barrier upload that cannot be applied (another lot's device, out-of-order records,
    an exit without its fee, a currency the lot does not charge in). Nothing was applied."""
