"""Credential layout and the token text: fixed length, QR-alphanumeric, fits QR version 6 at M."""

from __future__ import annotations

import pytest
import qrcode
import qrcode.constants

from qr.credential import (
    CREDENTIAL_LENGTH,
    Credential,
    CredentialFlags,
    RiderCategory,
    unpack_credential,
)
from qr.errors import CredentialError
from qr.issue import PhoneCredential
from qr.token import PREFIX, TOKEN_LENGTH, parse_token, static_part
from tests.helpers.qr import NOW, Issue

QR_ALPHANUMERIC = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")


def _credential(**changes: object) -> Credential:
    fields: dict[str, object] = {
        "issuer_kid": 1,
        "liveness_kid": 1,
        "credential_id": 5,
        "product": "M2A-DAY",
        "category": RiderCategory.STUDENT,
        "valid_from_minute": 100,
        "valid_until_minute": 200,
    }
    fields.update(changes)
    return Credential(**fields)  # type: ignore[arg-type]


def test_pack_is_29_bytes_and_round_trips() -> None:
    c = _credential(flags=CredentialFlags.POSTPAID)
    body = c.pack()
    assert len(body) == CREDENTIAL_LENGTH == 29
    assert unpack_credential(body) == c


@pytest.mark.parametrize(
    "changes",
    [
        {"issuer_kid": 0},
        {"liveness_kid": 256},
        {"credential_id": -1},
        {"credential_id": 2**64},
        {"product": ""},
        {"product": "TOOLONGXX"},
        {"product": "m2a"},
        {"valid_from_minute": 200},
        {"valid_until_minute": 2**32},
        {"flags": CredentialFlags(0x80)},
        {"version": 2},
    ],
)
def test_bad_fields_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(CredentialError):
        _credential(**changes)


@pytest.mark.parametrize(
    ("offset", "value"),
    [(0, 2), (19, 99), (28, 0x80), (11, 0x61), (12, 0x00)],  # version, category, flags, product
)
def test_unpack_refuses_what_pack_never_produces(offset: int, value: int) -> None:
    body = bytearray(_credential().pack())
    body[offset] = value
    assert unpack_credential(bytes(body)) is None
    assert unpack_credential(bytes(body[:-1])) is None


def test_category_codes() -> None:
    assert RiderCategory.from_code("Student") is RiderCategory.STUDENT
    with pytest.raises(CredentialError, match="unknown rider category"):
        RiderCategory.from_code("vip")


def test_token_shape(phone: PhoneCredential, token: str) -> None:
    assert len(token) == TOKEN_LENGTH == 151
    assert token.startswith(PREFIX)
    assert set(token) <= QR_ALPHANUMERIC
    assert token[-8:].isdigit()
    assert token[:-8] == static_part(phone.signed)
    parsed = parse_token(token)
    assert parsed is not None
    assert parsed.credential == phone.credential
    assert parsed.code == phone.code_at(NOW)
    assert parse_token(token.encode()) == parsed


def test_largest_credential_fits_qr_version_6_at_ecc_m(issue: Issue) -> None:
    # Every credential has the same length; this one fills every field to its maximum.
    phone = issue(
        credential_id=2**64 - 1,
        product="PARK-LOT",
        category=RiderCategory.STAFF,
        flags=CredentialFlags.POSTPAID | CredentialFlags.TEST,
    )
    code = qrcode.QRCode(version=None, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(phone.token_at(NOW))
    code.make(fit=True)
    assert code.version is not None
    assert code.version <= 6


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "FG1",
        "fg1" + "0" * 148,
        "XX1" + "0" * 148,
        "FG1" + "0" * 147 + "x",
        "FG1" + "0" * 140 + "1234567٣",  # a non-ASCII digit
        "FG1" + "a" * 140 + "12345678",
    ],
)
def test_parse_refuses_malformed_text(bad: str) -> None:
    assert parse_token(bad) is None


def test_parse_refuses_non_ascii_bytes(token: str) -> None:
    assert parse_token(token.encode()[:-1] + b"\xff") is None
