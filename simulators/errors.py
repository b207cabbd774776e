"""Errors of the simulators: a device simulator used wrongly."""

from __future__ import annotations


class BarrierError(Exception):
    """A barrier used wrongly (an acknowledgement the barrier never sent, a wrong lot)."""


class ConfigurationError(Exception):
    """A configuration document a device cannot use (not one, or for another device)."""
