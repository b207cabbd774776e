"""TOTP liveness: RFC 6238 Appendix B, the phone (pyotp) and gate (ours) agree, seed derivation."""

from __future__ import annotations

from datetime import UTC, datetime

import pyotp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qr.errors import PolicyError
from qr.liveness import (
    LivenessMaster,
    SoftwareSecureModule,
    TotpWindow,
    derive_seed,
    phone_totp,
    seed_to_base32,
    totp_code,
)

RFC_SEED = b"12345678901234567890"  # RFC 6238 Appendix B, SHA-1 seed
# (Unix time, 8-digit SHA-1 TOTP) for a 30 s period, from RFC 6238 Appendix B.
RFC_SHA1_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


@pytest.mark.parametrize(("unix", "expected"), RFC_SHA1_VECTORS)
def test_rfc6238_appendix_b_sha1_on_phone_and_gate(unix: int, expected: str) -> None:
    at = datetime.fromtimestamp(unix, UTC)
    assert phone_totp(RFC_SEED, period=30).at(at) == expected
    assert totp_code(RFC_SEED, unix // 30) == expected


@pytest.mark.parametrize(("unix", "expected"), RFC_SHA1_VECTORS)
def test_rfc_counters_with_our_15_second_period(unix: int, expected: str) -> None:
    # Same counter T = unix // 30 reached at T * 15 with a 15 s period: the same code.
    counter = unix // 30
    at = datetime.fromtimestamp(counter * 15 + 14, UTC)
    assert phone_totp(RFC_SEED, period=15).at(at) == expected
    assert totp_code(RFC_SEED, counter) == expected


@given(
    seed=st.binary(min_size=16, max_size=64), unix=st.integers(0, 2**33), period=st.integers(1, 120)
)
def test_phone_and_gate_compute_the_same_code(seed: bytes, unix: int, period: int) -> None:
    at = datetime.fromtimestamp(unix, UTC)
    assert phone_totp(seed, period).at(at) == totp_code(seed, unix // period)


# HMAC-SHA256(key 00 01 .. 1f, credential id as 8 bytes big-endian), computed with OpenSSL:
#   printf '\0\0\0\0\0\0\0\a' | openssl dgst -sha256 -mac HMAC -macopt hexkey:0001..1f
SEED_VECTORS = [
    (7, "dd12e3f09e85b8f1646d96744e4ecc0468d4e071ac6be42f731dd79a3bb857e2"),
    (8, "fa3762f4ae812907b5b0f25da4dc60a09e6f547715034b5ac784807aa2150a9c"),
]


@pytest.mark.parametrize(("credential_id", "expected"), SEED_VECTORS)
def test_seed_is_hmac_sha256_of_the_credential_id(credential_id: int, expected: str) -> None:
    assert derive_seed(bytes(range(32)), credential_id).hex() == expected


def _pyotp_code(seed: bytes, step: int) -> str:
    """The code pyotp (an implementation independent of ours) gives for `step`."""
    return str(pyotp.TOTP(seed_to_base32(seed), digits=8, interval=15).at(step * 15))


def test_secure_module_reports_the_matching_step_within_its_window() -> None:
    module = SoftwareSecureModule({3: LivenessMaster(b"m" * 32, period=15)})
    seed = derive_seed(b"m" * 32, 99)
    now = 1_700_000_007.0
    step = int(now // 15)
    window = TotpWindow(before=2, after=0)
    assert module.matches(99, 3, _pyotp_code(seed, step - 2), now, window) == step - 2
    assert module.matches(99, 3, _pyotp_code(seed, step + 1), now, window) is None
    assert module.matches(99, 3, _pyotp_code(seed, step - 3), now, window) is None
    assert module.matches(99, 4, _pyotp_code(seed, step), now, window) is None  # unknown kid
    assert module.knows(3)
    assert not module.knows(4)


def test_the_window_stops_at_the_first_step_after_the_epoch() -> None:
    module = SoftwareSecureModule({1: LivenessMaster(b"m" * 32, period=15)})
    seed = derive_seed(b"m" * 32, 5)
    window = TotpWindow(before=3, after=1)
    assert module.matches(5, 1, _pyotp_code(seed, 0), 5.0, window) == 0
    assert module.matches(5, 1, _pyotp_code(seed, 1), 5.0, window) == 1
    wrong = next(c for c in ("00000000", "11111111") if c != _pyotp_code(seed, 0))
    assert module.matches(5, 1, wrong, 5.0, window) is None


def test_window_cannot_be_negative() -> None:
    with pytest.raises(PolicyError, match="negative"):
        TotpWindow(before=-1)
