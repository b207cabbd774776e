"""`faregate keys`: Issuer and liveness key management."""

from __future__ import annotations

import click


@click.group(name="keys")
def keys() -> None:
    """Issuer and liveness key management."""
