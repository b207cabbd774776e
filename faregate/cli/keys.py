"""`faregate keys`: create, rotate and export issuer and liveness keys."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import click

from faregate.cli._common import INSTANT
from qr.keys import KEYSET_FILE, KeyMaterial, init_keys, load_keyset, rotate_keys
from qr.liveness import DEFAULT_PERIOD, MAX_PERIOD
from qr.timeutil import isoformat_z, utc_now

LIFETIME_DAYS = 730


@click.group(name="keys")
def keys() -> None:
    """Issuer and liveness key management."""


def _summary(directory: Path, material: KeyMaterial) -> str:
    lines = [f"key set {directory / KEYSET_FILE}:"]
    for k in material.keyset.issuer_keys:
        lines.append(
            f"  issuer   {k.kid}: {isoformat_z(k.not_before)} .. {isoformat_z(k.not_after)}"
        )
    for lk in material.keyset.liveness_keys:
        window = f"{isoformat_z(lk.not_before)} .. {isoformat_z(lk.not_after)}"
        lines.append(f"  liveness {lk.kid}: {window}, TOTP period {lk.period} s")
    return "\n".join(lines)


lifetime_option = click.option(
    "--lifetime-days",
    type=click.IntRange(1, 3650),
    default=LIFETIME_DAYS,
    show_default=True,
    help="How long the new keys stay in force.",
)
at_option = click.option("--at", type=INSTANT, help="Keys in force from this time (default: now).")


@keys.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--period",
    type=click.IntRange(1, MAX_PERIOD),
    default=DEFAULT_PERIOD,
    show_default=True,
    help="TOTP period, seconds.",
)
@lifetime_option
@at_option
def init(directory: Path, period: int, lifetime_days: int, at: datetime | None) -> None:
    """Create DIRECTORY with issuer and liveness keys (private files mode 0600) and keyset.json."""
    material = init_keys(directory, at or utc_now(), timedelta(days=lifetime_days), period)
    click.echo(_summary(directory, material))


@keys.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
@click.option(
    "--period",
    type=click.IntRange(1, MAX_PERIOD),
    help="TOTP period of the new liveness key (default: unchanged).",
)
@lifetime_option
@at_option
def rotate(directory: Path, period: int | None, lifetime_days: int, at: datetime | None) -> None:
    """Add a new key of each kind; old keys keep verifying until their own end."""
    material = rotate_keys(directory, at or utc_now(), timedelta(days=lifetime_days), period)
    click.echo(_summary(directory, material))


@keys.command()
@click.argument("directory", type=click.Path(file_okay=False, exists=True, path_type=Path))
def export(directory: Path) -> None:
    """Print the public key-set document (what gates load) on standard output."""
    click.echo(json.dumps(load_keyset(directory).to_json(), indent=2))
