"""The one exception hierarchy of `qr`: everything it raises on bad input derives from QRError."""


class QRError(Exception):
    """Base of every error `qr` raises for bad input (keys, credentials, deny lists, images)."""
