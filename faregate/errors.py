"""The one exception hierarchy of `faregate` (the composition root): all it raises on bad
configuration or an unusable server is a FaregateError.

FaregateError
├── DatabaseUrlError      the database URL is malformed or names a driver we do not use
├── DatabaseUnavailable   the database cannot be reached, opened or created
├── MigrationError        the schema cannot be migrated as asked (e.g. an unknown revision)
├── RedisUnavailable      no Redis answers (raised by faregate.redis_runtime)
├── MasterKeyError        the device master key file is unreadable (faregate.api.device_auth)
├── SettlementRefused     the finance page cannot start a day's settlement (faregate.web)
├── SignInDelayed         too many failed sign-ins of a user from one client: wait first
├── FormRefused           a staff page's form that cannot be taken as it is (faregate.web)
├── GatewayConfigError    the payment gateway's configuration is incomplete or names no gateway
├── BackendError          the demo's backend process did not start or stop as it should
└── SettleError           the demo's settlement through the finance API was refused or did
                          not finish
"""

from __future__ import annotations

from collections.abc import Mapping


class FaregateError(Exception):
    """Base of every error the composition root raises for bad configuration or servers."""


class DatabaseUrlError(FaregateError):
    """The database URL cannot be parsed, or names a database or driver Faregate does not use."""


class DatabaseUnavailable(FaregateError):
    """Connecting to the database (or creating its SQLite file) failed."""


class MigrationError(FaregateError):
    """Alembic refused the migration asked for (an unknown revision, a broken history)."""


class SettlementRefused(FaregateError):
    """The settlement of a day cannot start; the message says why, in one line."""


class MasterKeyError(FaregateError):
    """The device master key file is unreadable or malformed."""


class RedisUnavailable(FaregateError):
    """No Redis to talk to: no server binary, a server that would not start, or one that does
    not answer."""


class GatewayConfigError(FaregateError):
    """FAREGATE_GATEWAY names no gateway we have, or the chosen one lacks a setting it needs."""


class SignInDelayed(FaregateError):
    """Too many failed sign-ins of one username from one client: `retry_after` seconds must
    pass before the next attempt (faregate.web.sign_in_throttle)."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FormRefused(FaregateError):
    """A form a staff page cannot take as it is: its message, and each field and reason
    (faregate.web.parking_pages shows them beside the fields)."""

    def __init__(self, message: str, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class BackendError(FaregateError):
    """The demo's backend process did not start or stop as it should (its log says why)."""


class SettleError(FaregateError):
    """The finance API refused or did not finish the demo's settlement of a day."""
