"""The token text a QR code shows: PREFIX + base45(credential + signature) + 8 TOTP digits.

Every character is in the QR alphanumeric set, the length is fixed (151 characters), and the
TOTP digits come last as plain decimal so a wallet with `{totp_value_0}`-style patterns can
render the code from the static part.
"""

from __future__ import annotations

from typing import NamedTuple

from qr.base45 import b45decode, b45encode, encoded_length
from qr.credential import (
    CREDENTIAL_LENGTH,
    SIGNED_LENGTH,
    Credential,
    CredentialFields,
    unpack_fields,
)
from qr.liveness import DIGITS

PREFIX = "FG1"
BODY_LENGTH = encoded_length(SIGNED_LENGTH)
TOKEN_LENGTH = len(PREFIX) + BODY_LENGTH + DIGITS
_CODE_START = len(PREFIX) + BODY_LENGTH
_ASCII_DIGITS = frozenset("0123456789")


class ParsedToken(NamedTuple):
    """A token that is well formed; nothing about it has been verified yet."""

    fields: CredentialFields
    body: bytes  # the credential bytes the signature covers
    signature: bytes
    code: str

    @property
    def credential(self) -> Credential:
        return self.fields.credential()


def static_part(signed_credential: bytes) -> str:
    """Everything in the token but the TOTP digits: it never changes for one credential."""
    return PREFIX + b45encode(signed_credential)


def build_token(signed_credential: bytes, code: str) -> str:
    return static_part(signed_credential) + code


def parse_token(token: str | bytes) -> ParsedToken | None:
    """Strict parse: exact length, prefix, canonical base45, known layout; None otherwise."""
    if type(token) is not str:
        if not isinstance(token, bytes | bytearray | memoryview):
            return None
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            return None
    if len(token) != TOKEN_LENGTH or not token.startswith(PREFIX):
        return None
    code = token[_CODE_START:]
    if not _ASCII_DIGITS.issuperset(code):
        return None
    signed = b45decode(token[len(PREFIX) : _CODE_START])
    if signed is None or len(signed) != SIGNED_LENGTH:
        return None
    body = signed[:CREDENTIAL_LENGTH]
    fields = unpack_fields(body)
    if fields is None:
        return None
    return ParsedToken(fields, body, signed[CREDENTIAL_LENGTH:], code)
