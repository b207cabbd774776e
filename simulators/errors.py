"""Errors of the simulators: a device simulator used wrongly."""

from __future__ import annotations


class BarrierError(Exception):
    """A barrier used wrongly (an acknowledgement the barrier never sent, a wrong lot)."""
