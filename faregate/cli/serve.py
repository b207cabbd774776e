"""`faregate serve`: run the HTTP backend until SIGTERM or Ctrl-C, then shut down gracefully.

On SIGTERM/SIGINT aiohttp stops accepting connections, lets requests being handled finish (up
to `--shutdown-timeout` seconds), then the cleanup contexts close the gateway client, Redis (a
private server is stopped) and the database engine. A request whose body is still arriving
when the signal comes is dropped unanswered (aiohttp closes its connection); for an upload that
is safe: nothing unacknowledged counts as stored, and the device sends it again.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
from aiohttp import web

from faregate.api.app import create_app
from faregate.api.context import ApiConfig, StripeConfig
from faregate.api.device_auth import load_or_create_master_key
from faregate.config import Settings

DEFAULT_FARE_FEED = Path(__file__).resolve().parents[2] / "data" / "hanoi"
STRIPE_DEFAULT_BASE = "https://api.stripe.com"


def _stripe_from_environment() -> StripeConfig | None:
    api_key = os.environ.get("STRIPE_API_KEY")
    if not api_key:
        return None
    secret = os.environ.get("STRIPE_WEBHOOK_SECRET")
    if not secret:
        raise click.UsageError("STRIPE_API_KEY is set but STRIPE_WEBHOOK_SECRET is not")
    return StripeConfig(
        api_key=api_key,
        api_base=os.environ.get("STRIPE_API_BASE", STRIPE_DEFAULT_BASE),
        webhook_secret=secret,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Key directory whose keyset.json devices fetch; default DATA_DIR/keys.",
)
@click.option(
    "--fare-feed",
    type=click.Path(exists=True, path_type=Path),
    default=None,
    help="GTFS fare feed (folder or zip) devices fetch; default the shipped Hanoi feed.",
)
@click.option(
    "--device-master-key",
    "master_key_file",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FAREGATE_DEVICE_MASTER_KEY_FILE",
    default=None,
    help="File with the key device secrets derive from (created if missing); "
    "default DATA_DIR/device-master.key. Servers sharing devices share this file.",
)
@click.option("--shutdown-timeout", default=30.0, show_default=True, type=click.FloatRange(0))
@click.option(
    "--no-worker",
    is_flag=True,
    help="Run no pricing worker in this process (run `faregate worker` processes instead).",
)
@click.pass_obj
def serve(
    settings: Settings,
    host: str,
    port: int,
    keys_dir: Path | None,
    fare_feed: Path | None,
    master_key_file: Path | None,
    shutdown_timeout: float,
    no_worker: bool,
) -> None:
    """Serve the device, webhook and operations APIs over HTTP (OpenAPI at /openapi.json).

    Payments go to STRIPE_API_KEY / STRIPE_API_BASE (with STRIPE_WEBHOOK_SECRET) when set,
    otherwise to a private localstripe in the data directory.
    """
    feed = fare_feed or DEFAULT_FARE_FEED
    if not feed.exists():
        raise click.UsageError(f"no fare feed at {feed}; pass --fare-feed")
    config = ApiConfig(
        settings=settings,
        device_master_key=load_or_create_master_key(
            master_key_file or settings.data_dir / "device-master.key"
        ),
        keys_dir=keys_dir or settings.data_dir / "keys",
        fare_feed=feed,
        stripe=_stripe_from_environment(),
        pricing_worker=not no_worker,
    )
    web.run_app(
        create_app(config),
        host=host,
        port=port,
        shutdown_timeout=shutdown_timeout,
        print=lambda message: click.echo(message, err=True),
        access_log=None,
    )
