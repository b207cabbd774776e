"""`faregate demo`: The simulated city day."""

from __future__ import annotations

import click


@click.command()
def demo() -> None:
    """Run a simulated city day end to end."""
