"""Shared CLI plumbing: which exceptions are the user's fault and how they are shown."""

from __future__ import annotations

from gateways.errors import GatewayError
from qr.errors import QRError
from ticketing.errors import TicketingError

# Raised for bad input, a missing file or an unreachable server: shown as one line, never a
# traceback. Anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (
    QRError,
    TicketingError,
    GatewayError,
    OSError,
    ValueError,
)
