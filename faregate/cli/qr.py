"""`faregate qr`: Credential and token commands: issue, token, verify, show."""

from __future__ import annotations

import click


@click.group(name="qr")
def qr() -> None:
    """Credential and token commands: issue, token, verify, show."""
