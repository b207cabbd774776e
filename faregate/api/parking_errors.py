"""Parking's errors as problem documents (`parking_problems()` around a call), one table for
the operator, inspector, passenger-permit and open-data routes.

| error | status | type |
|---|---|---|
| UnknownLot | 404 | `unknown-lot` |
| UnknownTariffVersion | 404 | `unknown-tariff-version` |
| LotExists | 409 | `lot-exists` |
| LotError | 422 | `invalid-lot` (`errors`: its field and reason) |
| TariffError, TariffErrors | 422 | `invalid-tariff` (`errors`: each field and reason) |
| QuoteError | 422 | `invalid-stay` |
| TariffScheduleError | 409 | `tariff-schedule` |
| NoTariff | 409 | `no-tariff` |
| PermitError | 409 | `permit-refused` |
| CaseError | 409 | `case-refused` |
| InspectionError | 422 | `not-inspectable` |
| RemoteOpenError | 409 | `remote-open-refused` |
| InsufficientFunds (a permit from a wallet) | 409 | `insufficient-funds` |
| UnknownRecord (an account or credential) | 404 | `unknown-record` |

A parking error not in the table is another parking error (a field it names, a refusal): 422.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from faregate.api.errors import Problem
from parking.errors import (
    CaseError,
    InspectionError,
    LotError,
    LotExists,
    NoTariff,
    ParkingError,
    PermitError,
    QuoteError,
    RemoteOpenError,
    TariffError,
    TariffErrors,
    TariffScheduleError,
    UnknownLot,
    UnknownTariffVersion,
)
from ticketing.errors import UnknownRecord
from ticketing.ledger.errors import InsufficientFunds

_PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    UnknownLot: (404, "unknown-lot", "Unknown lot"),
    UnknownTariffVersion: (404, "unknown-tariff-version", "Unknown tariff version"),
    LotExists: (409, "lot-exists", "Conflict"),
    LotError: (422, "invalid-lot", "Invalid lot"),
    TariffError: (422, "invalid-tariff", "Invalid tariff"),
    QuoteError: (422, "invalid-stay", "Stay cannot be priced"),
    TariffScheduleError: (409, "tariff-schedule", "Conflict"),
    NoTariff: (409, "no-tariff", "Conflict"),
    PermitError: (409, "permit-refused", "Conflict"),
    CaseError: (409, "case-refused", "Conflict"),
    InspectionError: (422, "not-inspectable", "Cannot check this plate here"),
    RemoteOpenError: (409, "remote-open-refused", "Conflict"),
    InsufficientFunds: (409, "insufficient-funds", "Conflict"),
    UnknownRecord: (404, "unknown-record", "Not Found"),
}
_OTHER = (422, "parking", "Refused")


def parking_problem(error: Exception) -> Problem:
    """The problem document of a parking error (or of the ticketing errors a permit sale
    raises), with each field and reason of a tariff or lot."""
    status, slug, title = next(
        (_PROBLEMS[kind] for kind in type(error).__mro__ if kind in _PROBLEMS), _OTHER
    )
    fields: list[tuple[str, str]] = []
    if isinstance(error, TariffErrors):
        fields = [(e.field or e.file, e.reason) for e in error.errors]
    elif isinstance(error, (TariffError, LotError)):
        fields = [(error.field or getattr(error, "file", ""), error.reason)]
    return Problem(status, slug, title, str(error), errors=fields)


@contextmanager
def parking_problems() -> Iterator[None]:
    """Answer a parking error raised inside (and an account's missing money or record) as
    its problem document."""
    try:
        yield
    except (ParkingError, InsufficientFunds, UnknownRecord) as error:
        raise parking_problem(error) from error
