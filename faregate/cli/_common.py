"""Shared CLI plumbing: which exceptions are the user's fault and how they are shown."""

from __future__ import annotations

import getpass
import math
from datetime import datetime

import click

from faregate.errors import FaregateError
from gateways.errors import GatewayError
from parking.errors import ParkingError
from qr.errors import QRError
from qr.timeutil import Clock, parse_instant, utc_now
from ticketing.audit import Actor
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


def finite(_ctx: click.Context, param: click.Parameter, value: float | None) -> float | None:
    """An option callback refusing NaN, which FloatRange lets through (it compares false with
    both bounds)."""
    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number", param=param)
    return value


def administrator() -> Actor:
    """Whoever runs the command, as the audit log records them: an administrator by login."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment nor the password database
        login = "administrator"
    return Actor.administrator(login)


def instant(option: str, text: str) -> datetime:
    """An option's ISO 8601 time, which must carry its UTC offset."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f'{option} "{text}" is not an ISO 8601 time') from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise click.ClickException(f'{option} "{text}" needs a UTC offset (e.g. +07:00 or Z)')
    return value


def simulated_clock(start: str | None) -> Clock:
    """The process's clock (`faregate serve`, `faregate worker`): now, or (`--simulated-time`)
    one that read `start` when the process started and advances with real time from there."""
    if start is None:
        return utc_now
    try:
        at = datetime.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(
            f"{start!r} is not an ISO 8601 time", param_hint="--simulated-time"
        ) from None
    if at.tzinfo is None:
        raise click.BadParameter(
            f"{start!r} has no UTC offset (e.g. 2026-11-24T06:00+07:00)",
            param_hint="--simulated-time",
        )
    offset = at - utc_now()
    return lambda: utc_now() + offset


class InstantType(click.ParamType[datetime, str]):
    """An ISO 8601 time with its offset; a naive time is a usage error (its instant is a guess)."""

    name = "ISO-TIME"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(str(value), "time")
        except QRError as exc:
            self.fail(
                f"{exc} (write it with an offset, e.g. 2025-06-01T08:30:00+07:00 or ...Z)",
                param,
                ctx,
            )


INSTANT = InstantType()
