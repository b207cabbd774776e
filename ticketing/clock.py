"""The injectable clock stores and services take: a callable returning an aware datetime."""

from qr.timeutil import Clock, utc_now

__all__ = ["Clock", "utc_now"]
