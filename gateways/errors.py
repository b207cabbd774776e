"""The one exception hierarchy of `gateways`: every gateway failure derives from GatewayError."""


class GatewayError(Exception):
    """Base of every error a payment gateway adapter raises."""
