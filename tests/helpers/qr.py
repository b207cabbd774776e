"""Fixed values of the `qr` tests: the instant they verify at, the gate, the issuing callable's
type (the `issue` fixture of tests/qr/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from qr.issue import PhoneCredential
from qr.verifier import GateContext

NOW = datetime(2025, 6, 1, 8, 30, 7, tzinfo=UTC)
GATE = GateContext("G1")

Issue = Callable[..., PhoneCredential]
