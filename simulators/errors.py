"""Errors of the simulators: a device simulator used wrongly."""

from __future__ import annotations


class BarrierError(Exception):
    """A barrier used wrongly (an acknowledgement the barrier never sent, a wrong lot)."""


class ConfigurationError(Exception):
    """A configuration document a device cannot use (not one, or for another device)."""


class SealedKeysError(Exception):
    """Liveness keys that do not open with this device's key (sealed to another device,
    altered on the way, or not a sealed key set at all)."""


class FaultSpecError(Exception):
    """A fault switch that names no known fault or gives it a dose it cannot have."""


class UploadFailed(Exception):
    """A device gave up uploading after its retries (what the server last answered)."""


class PhoneError(Exception):
    """The passenger API refused what the phone asked (status and problem document)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
