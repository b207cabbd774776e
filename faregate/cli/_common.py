"""Shared CLI plumbing: which exceptions are the user's fault and how they are shown."""

from __future__ import annotations

from faregate.errors import FaregateError
from gateways.errors import GatewayError
from parking.errors import ParkingError
from qr.errors import QRError
from ticketing.errors import TicketingError

# The roots of our packages' error hierarchies: bad input, a bad file, an unreachable server.
# Each is shown as one `Error:` line; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    QRError,
    TicketingError,
    GatewayError,
    ParkingError,
    FaregateError,
)
