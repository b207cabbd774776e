"""The one exception hierarchy of `parking`: all it raises on bad input derives from ParkingError.

ParkingError
├── TariffError          a tariff file or document is missing, malformed or inconsistent;
│   │                    names the file, the field and the reason
│   └── TariffErrors     every error found in one document (`errors`), the first as its own
├── QuoteError           a stay the tariff cannot price: exit before entry, a naive or
│   │                    malformed time
│   └── UnknownVehicleClass  a vehicle class that is not `car`/`motorbike`, or that the
│                            tariff does not price
├── SessionError         a session event that contradicts the session (exit of a closed
│                        session, payment on an unpaid-for case)
├── OccupancyError       a lot's live occupancy cannot be read or corrected (unknown lot,
│                        a capacity below zero)
├── LotsFileError        a lots file is missing or malformed (file, field, reason)
├── LotError             a lot's configuration that cannot work (field, reason)
├── LotExists            a new lot whose id is taken
├── UnknownLot           a lot, session or receipt not on record
│   └── UnknownCase      an unable-to-collect case not on record
├── NoTariff             a lot with no tariff scheduled (nothing can price its stays)
├── UnknownTariffVersion a tariff version the lot does not have
├── TariffScheduleError  a schedule or cancellation that cannot be (in the past, a version
│                        in force already, another currency)
├── CaseError            an unable-to-collect case that cannot change as asked (no account to
│                        tell, resolved already, a debt only its payment collects, no reason)
├── InvalidPlate         a text that is no plate: fewer than 4 or more than 16 letters and
│                        digits once spaces, dots and dashes are dropped
├── InspectionError      a plate check that cannot be made (not an on-street lot)
├── RemoteOpenError      a barrier that cannot be opened from afar (not the lot's, no reason)
├── PermitError          a permit that cannot be sold as asked (no permits at the lot, a
│                        month past, sold out, neither or both of a plate and a credential)
├── BarrierUploadError   a barrier upload that cannot be applied (nothing was)
│   └── ImpossibleRecord a record no working barrier makes: exit before entry, a time far
│                        from the server's clock, a sequence number that leaps, a fee above
│                        what any version of the lot's tariff charges for the stay
└── BarrierConfigurationError  a barrier configuration document that is not one

TariffPartRecorded is no error of the caller's: the tariff reader raises it to leave a part of a
document whose errors it has recorded already, and catches it itself; it never leaves the reader.

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


class TariffErrors(TariffError):
    """Every error one tariff document has, each a `TariffError` with its field and reason;
    the first is this error's own file, field and reason."""

    def __init__(self, errors: list[TariffError]) -> None:
        first = errors[0]
        super().__init__(first.file, first.field, first.reason)
        self.errors = tuple(errors)
        if len(errors) > 1:
            more = "; ".join(f"{e.field or e.file}: {e.reason}" for e in errors[1:4])
            extra = f"; and {len(errors) - 4} more" if len(errors) > 4 else ""
            self.args = (f"{self.args[0]} (and {len(errors) - 1} more: {more}{extra})",)


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


class LotError(ParkingError):
    """A lot's configuration that cannot work: `field` and `reason` say which and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class LotExists(ParkingError):
    """A new lot whose id another lot has."""


class UnknownLot(ParkingError):
    """A lot, session or receipt that is not on record."""


class UnknownCase(UnknownLot):
    """No unable-to-collect case for this session (an UnknownLot, as its callers caught
    before it had its own name)."""


class NoTariff(ParkingError):
    """A lot with no tariff version scheduled: nothing can price its stays."""


class UnknownTariffVersion(ParkingError):
    """A version number the lot's tariff does not have."""


class TariffScheduleError(ParkingError):
    """A tariff version that cannot be scheduled or cancelled as asked: a time in the past, a
    version already in force (stays were priced with it), a currency the lot does not charge."""


class CaseError(ParkingError):
    """An unable-to-collect case that cannot change as asked: no account to tell, resolved
    already, a debt that only its payment collects, a change without its reason."""


class InvalidPlate(ParkingError):
    """A text that is no plate: too few or too many letters and digits once normalised."""


class InspectionError(ParkingError):
    """A plate check that cannot be made: not an on-street lot, not a plate."""


class RemoteOpenError(ParkingError):
    """A barrier that cannot be opened from afar: not a barrier of the lot, no reason given."""


class PermitError(ParkingError):
    """A permit that cannot be sold as asked: the lot sells none, the month is over, every
    reserved space of the month is sold, or the holder is not one plate or one credential."""


class BarrierUploadError(ParkingError):
    """A barrier upload that cannot be applied (another lot's device, out-of-order records,
    an exit without its fee, a currency the lot does not charge in). Nothing was applied."""


class ImpossibleRecord(BarrierUploadError):
    """A barrier record no working barrier makes (`parking.record_checks`); the upload is
    refused whole, naming the record, and nothing of it is applied."""


class BarrierConfigurationError(ParkingError):
    """A barrier configuration that cannot be built or read (a document that is not one)."""


class TariffPartRecorded(Exception):
    """A part of a tariff document whose errors are recorded already: stop checking it, go on
    with the next (the tariff reader's own signal, caught inside it)."""
