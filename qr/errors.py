"""The one exception hierarchy of `qr`: everything it raises on bad input derives from QRError.

The verifier itself never raises for a token: a bad token is a refused `Decision`. These errors
are for the things around it: key files, credential files, deny-list documents, images, times.
"""


class QRError(Exception):
    """Base of every error `qr` raises for bad input (keys, credentials, deny lists, images)."""


class NaiveTimeError(QRError, ValueError):
    """A time without a timezone was given where an instant is needed, or it is no ISO time."""


class TimeRangeError(QRError):
    """An instant outside the years Faregate handles (1970 up to 9000)."""


class PolicyError(QRError):
    """A verifier policy that cannot work (a negative TOTP window, a passback time of NaN)."""


class CredentialError(QRError):
    """A credential cannot be built, issued or loaded (bad field, bad credential file)."""


class KeySetError(QRError):
    """A key directory, key-set document or private key file is missing, malformed or unusable."""


class NoActiveKeyError(KeySetError):
    """No issuer or liveness key is in force at the requested moment, so nothing can be issued."""


class DenyListError(QRError):
    """A deny-list document or delta is malformed."""


class DenyListGapError(DenyListError):
    """A delta starts after the list's version: deltas in between are missing."""


class DenyListOrderError(DenyListError):
    """A delta starts before the list's version (already applied, or out of order)."""


class GateStateError(QRError):
    """A gate's replay/passback state file is malformed."""


class ImageDecodeError(QRError):
    """An image cannot be read, or holds no QR code."""


class OutputError(QRError):
    """A file `qr` was asked to write (a PNG, an SVG, a JSON document) cannot be written."""
