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
