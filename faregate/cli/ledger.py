"""`faregate ledger`: Ledger commands: trial balance and invariant checks."""

from __future__ import annotations

import click


@click.group(name="ledger")
def ledger() -> None:
    """Ledger commands: trial balance and invariant checks."""
