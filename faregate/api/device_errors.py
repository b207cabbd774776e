"""The device registry's errors as problem documents (`device_problems()` around a call).

| error | status | type |
|---|---|---|
| InvalidDevice, UnknownPlace | 422 | `validation` |
| UnknownDevice | 404 | `unknown-device` |
| DeviceExists | 409 | `device-exists` |
| EnrolmentRefused | 403 | `enrolment-refused` |
| DeviceKeyMismatch | 503 | `device-key` |
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from faregate.api.errors import Problem
from ticketing.errors import (
    DeviceError,
    DeviceExists,
    DeviceKeyMismatch,
    EnrolmentRefused,
    InvalidDevice,
    UnknownDevice,
    UnknownPlace,
)

_PROBLEMS: dict[type[DeviceError], tuple[int, str, str]] = {
    InvalidDevice: (422, "validation", "Invalid device"),
    UnknownPlace: (422, "validation", "Unknown place"),
    UnknownDevice: (404, "unknown-device", "Unknown device"),
    DeviceExists: (409, "device-exists", "Conflict"),
    EnrolmentRefused: (403, "enrolment-refused", "Enrolment refused"),
    DeviceKeyMismatch: (503, "device-key", "Service Unavailable"),
}


@contextmanager
def device_problems() -> Iterator[None]:
    """Answer a device registry error raised inside as its problem document."""
    try:
        yield
    except DeviceError as error:
        status, slug, title = _PROBLEMS[type(error)]
        raise Problem(status, slug, title, str(error)) from error
