"""`faregate serve`: run the HTTP backend until SIGTERM or Ctrl-C, then shut down gracefully.

On SIGTERM/SIGINT aiohttp stops accepting connections, lets requests being handled finish (up
to `--shutdown-timeout` seconds), then the cleanup contexts close the gateway client, Redis (a
private server is stopped) and the database engine. A request whose body is still arriving
when the signal comes is dropped unanswered (aiohttp closes its connection); for an upload that
is safe: nothing unacknowledged counts as stored, and the device sends it again.

A first start on the embedded default (no DATABASE_URL, no --keys-dir) creates what the server
needs in the data directory, and says so: the device master key (device secrets are stored
sealed under it), and issuer and liveness keys as `faregate keys init DATA_DIR/keys` would. A
server on a shared database must share its keys with its peers, so there a missing key set is
left for the operator (and /healthz says 503).
"""

from __future__ import annotations

import gc
import os
import socket
from datetime import timedelta
from pathlib import Path

import click
from aiohttp import web

from faregate.api.app import create_app
from faregate.api.context import ApiConfig
from faregate.api.device_auth import load_or_create_master_key
from faregate.cli._common import simulated_clock
from faregate.cli.keys import LIFETIME_DAYS
from faregate.config import Settings
from faregate.errors import GatewayConfigError
from faregate.gateway_runtime import gateway_from_environment, vnpay_from_environment
from faregate.web.clients import TrustedProxies
from faregate_data import HANOI_FEED
from qr.keys import KEYSET_FILE, init_keys
from qr.timeutil import utc_now


def say(message: str) -> None:
    """Tell whoever started the server (its console: standard error)."""
    click.echo(message, err=True)


def _master_key(path: Path) -> bytes:
    existed = path.exists()
    try:
        key = load_or_create_master_key(path)
    except OSError as exc:
        raise click.ClickException(f"cannot create {path}: {exc.strerror or exc}") from None
    if not existed:
        say(f"created the device master key {path} (device secrets are stored sealed under it)")
    return key


def _keys_dir(settings: Settings, given: Path | None) -> Path:
    """The key directory; on the embedded default a first start creates its keys."""
    if given is not None:
        return given
    directory = settings.data_dir / "keys"
    if (directory / KEYSET_FILE).exists():
        return directory
    if settings.database_url is not None:
        say(f"no key set in {directory}: no credential can be issued until it has one")
        return directory
    init_keys(directory, utc_now(), timedelta(days=LIFETIME_DAYS))
    say(
        f"created issuer and liveness keys in {directory}, in force for {LIFETIME_DAYS} days "
        "(`faregate keys rotate` adds new ones)"
    )
    return directory


def _listen(host: str, port: int) -> list[socket.socket]:
    """Sockets bound on every address `host` names, before anything starts, so that a port in
    use or a host that names no address of ours is one error line."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, ValueError) as exc:  # ValueError: a NUL; UnicodeError: no IDNA name
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise click.ClickException(f"cannot listen on {host!r}: {reason}") from None
    sockets: list[socket.socket] = []
    try:
        for family, address in dict.fromkeys((entry[0], entry[4]) for entry in found):
            sockets.append(socket.create_server(address, family=family))
    except OSError as exc:
        for bound in sockets:
            bound.close()
        raise click.ClickException(
            f"cannot listen on {host!r} port {port}: {os.strerror(exc.errno or 0)}"
        ) from None
    return sockets


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--keys-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Key directory whose keyset.json devices fetch; default DATA_DIR/keys (created on "
    "a first start without DATABASE_URL).",
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
    help="File with the key device secrets are stored sealed under (created if missing); "
    "default DATA_DIR/device-master.key. Servers sharing devices share this file.",
)
@click.option("--shutdown-timeout", default=30.0, show_default=True, type=click.FloatRange(0))
@click.option(
    "--trusted-proxy",
    "trusted_proxies",
    multiple=True,
    envvar="FAREGATE_TRUSTED_PROXIES",
    help="Address or network (CIDR) of a reverse proxy in front, whose X-Forwarded-For and "
    "X-Forwarded-Proto are believed (the client for sign-in limits; HTTPS for the staff "
    "cookie's Secure flag). Repeat it, or a space-separated list in the variable.",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Run no pricing worker in this process (run `faregate worker` processes instead).",
)
@click.option(
    "--no-settlement-runner",
    is_flag=True,
    help="Run no settlement runner in this process: the settlements finance prepares and "
    "approves wait for `faregate worker --settlements` processes.",
)
@click.option(
    "--simulated-time",
    metavar="ISO",
    default=None,
    help="Run the server's clock from this instant (ISO 8601 with a UTC offset) instead of "
    "now; it advances with real time. `faregate demo` serves its simulated day this way.",
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
    trusted_proxies: tuple[str, ...],
    no_worker: bool,
    no_settlement_runner: bool,
    simulated_time: str | None,
) -> None:
    """Serve the device, webhook and operations APIs over HTTP (OpenAPI at /openapi.json).

    Payments go to the gateway FAREGATE_GATEWAY names (default stripe): STRIPE_API_KEY /
    STRIPE_API_BASE (with STRIPE_WEBHOOK_SECRET) when set, otherwise a private localstripe in
    the data directory. VNPay top-ups: VNPAY_TMN_CODE and VNPAY_HASH_SECRET (VNPAY_PAY_URL,
    VNPAY_API_URL, VNPAY_RETURN_URL; see faregate.gateway_runtime.vnpay_from_environment).
    """
    try:
        gateway = gateway_from_environment(webhooks=True)
        vnpay = vnpay_from_environment()
    except GatewayConfigError as error:
        raise click.UsageError(str(error)) from error
    try:
        proxies = TrustedProxies.parse(trusted_proxies)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--trusted-proxy") from error
    clock = simulated_clock(simulated_time)
    sockets = _listen(host, port)
    try:
        config = ApiConfig(
            settings=settings,
            device_master_key=_master_key(
                master_key_file or settings.data_dir / "device-master.key"
            ),
            keys_dir=_keys_dir(settings, keys_dir),
            fare_feed=fare_feed or HANOI_FEED,
            gateway=gateway,
            pricing_worker=not no_worker,
            settlement_runner=not no_settlement_runner,
            trusted_proxies=proxies,
            clock=clock,
            vnpay=vnpay,
        )
    except BaseException:
        for bound in sockets:
            bound.close()
        raise
    app = create_app(config)
    app.on_startup.append(_freeze_heap)
    web.run_app(
        app,
        sock=sockets,
        shutdown_timeout=shutdown_timeout,
        print=say,
        access_log=None,
    )


async def _freeze_heap(app: web.Application) -> None:
    """Once the app has started (modules, fare feed, engine, routes: some 200,000 objects that
    live as long as the process), move what the heap holds out of the collector's sight. Each
    full collection walked all of it while answering uploads: under bench/ingest.py about a
    quarter of the server's CPU (11 collections of ~0.1 s in 100,000 taps). What is frozen is
    still freed by reference counting; only cycles among it are never collected."""
    gc.collect()
    gc.freeze()
