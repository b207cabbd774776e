"""`faregate fares`: Fare feed commands: quote journeys against a GTFS feed."""

from __future__ import annotations

import click


@click.group(name="fares")
def fares() -> None:
    """Fare feed commands: quote journeys against a GTFS feed."""
