"""Run localstripe with its state file in a directory of our choosing.

localstripe pickles its whole store to the fixed `/tmp/localstripe.pickle` and reloads it at
start, so two instances (parallel test runs, the demo, a later settlement) would share and
clobber one file. This launcher points the store at `STATE_DIR/localstripe.pickle`, writes it
atomically, binds a loopback port (0: any free one) and publishes the bound port in
`STATE_DIR/port` once it listens, so the parent never races for a port.

localstripe writes its whole store after every POST, PUT and DELETE, so a request cost in
proportion to everything stored before it (a city day's settlement spent most of its gateway
time pickling). Here a change only marks the store changed; it is written at most every
`SAVE_INTERVAL` seconds (longer while a write takes long: writing stays under 2% of the
time) and when the server stops (SIGTERM, the orphan watch, Ctrl-C). A SIGKILL loses the
last interval's changes: this is a test stand-in for a gateway, not one.

One instance per state directory: the launcher holds an exclusive lock on `STATE_DIR/lock` (its
pid and its parent's written in it) for as long as it runs, and exits with `LOCKED_EXIT_CODE` if
another instance holds it. Two instances over one store would each keep their own copy in
memory and overwrite each other's file, losing payments. With `--parent-pid` it stops when that
process exits, so a parent killed without stopping it leaves no orphan holding the directory.

    python -m gateways._localstripe_launcher --state-dir D [--port N] [--from-scratch]
                                             [--parent-pid PID]

`--load-cards` adds customers with saved cards to the stopped store instead of serving: a
city's card holders of earlier days in one step (`load_saved_cards`), not two requests each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import json
import os
import pickle
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from aiohttp import web

STATE_FILE_NAME = "localstripe.pickle"
PORT_FILE_NAME = "port"
LOCK_FILE_NAME = "lock"
LOCKED_EXIT_CODE = 75  # EX_TEMPFAIL: another instance holds the state directory
SAVE_INTERVAL = 1.0  # seconds between writes of a changed store, at least
# At most this share of the time spent writing the store: a tenth was still three quarters of
# localstripe's CPU while 10,000 phones paid (its requests are cheap beside a whole pickle).
SAVE_SHARE = 0.02


def lock_state_dir(state_dir: Path) -> int | None:
    """An open descriptor holding the directory's exclusive lock, or None if another process
    holds it. The lock lasts until the descriptor is closed (at the latest, at exit)."""
    fd = os.open(state_dir / LOCK_FILE_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class _Persistence:
    """When the store is written: `changed` marks it, `save` writes it if marked."""

    def __init__(self, state_file: Path, store: Any) -> None:
        self.state_file = state_file
        self.store = store
        self.dirty = False
        self.interval = SAVE_INTERVAL

    def changed(self) -> None:
        self.dirty = True

    def save(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        started = time.perf_counter()
        data = pickle.dumps(dict(self.store), protocol=pickle.HIGHEST_PROTOCOL)
        _write_atomically(self.state_file, data)
        self.interval = max(SAVE_INTERVAL, (time.perf_counter() - started) / SAVE_SHARE)

    async def context(self, _: web.Application) -> AsyncIterator[None]:
        """Write the changed store every `interval` while the server runs, and at its end."""

        async def every_interval() -> None:
            while True:
                await asyncio.sleep(self.interval)
                self.save()

        saving = asyncio.create_task(every_interval())
        try:
            yield
        finally:
            saving.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saving
            self.save()


def _relocate_store(state_file: Path) -> _Persistence:
    """Patch localstripe's Store to persist at `state_file`, written by the returned
    persistence rather than after every change, and to list objects (and each charge's
    refunds) from indexes."""
    from localstripe import resources

    store = resources.store
    persistence = _Persistence(state_file, store)
    # Each type's objects in the store's order: localstripe built every page of a listing by
    # scanning the whole store, so listing the payments of a day cost pages x everything held.
    by_type: dict[str, dict[str, Any]] = {}

    def index(key: str, value: Any) -> None:
        kind, colon, _ = key.partition(":")
        if colon:
            by_type.setdefault(kind, {})[key] = value

    # Each charge's refunds, rebuilt when the refunds changed: localstripe's `Charge.refunds`
    # lists every refund held and keeps the charge's, three times for each charge it exports
    # (`refunds`, `amount_refunded`, `refunded`), so a listing of payments with their charges
    # cost payments x refunds. A refund names its charge only after the store holds it, so
    # the index cannot be kept up on insertion.
    refunds_by_charge: dict[str, list[Any]] = {}
    refunds_changed = True

    def set_item(store: dict[str, Any], key: str, value: Any) -> None:
        nonlocal refunds_changed
        dict.__setitem__(store, key, value)
        index(key, value)
        refunds_changed |= key.startswith("refund:")

    def del_item(store: dict[str, Any], key: str) -> None:
        nonlocal refunds_changed
        dict.__delitem__(store, key)
        by_type.get(key.partition(":")[0], {}).pop(key, None)
        refunds_changed |= key.startswith("refund:")

    def clear(store: dict[str, Any]) -> None:
        nonlocal refunds_changed
        dict.clear(store)
        by_type.clear()
        refunds_changed = True

    def charge_refunds(charge: Any) -> Any:
        """`Charge.refunds` as localstripe answers it (newest first, a page of the default
        size), from the index."""
        nonlocal refunds_changed
        if refunds_changed:
            refunds_by_charge.clear()
            for refund in by_type.get("refund", {}).values():
                refunds_by_charge.setdefault(refund.charge, []).append(refund)
            refunds_changed = False
        listed = resources.List(f"/v1/charges/{charge.id}/refunds")
        listed._list = sorted(
            refunds_by_charge.get(charge.id, ()), key=lambda r: r.date, reverse=True
        )
        return listed

    def try_load_from_disk(store: dict[str, Any]) -> None:
        try:
            old = pickle.loads(state_file.read_bytes())
        except FileNotFoundError:
            return
        clear(store)
        for key, value in old.items():
            set_item(store, key, value)

    def list_all(
        cls: Any, url: str, /, limit: Any = None, starting_after: Any = None, **kwargs: Any
    ) -> Any:
        if kwargs:
            raise resources.UserError(400, "Unexpected " + ", ".join(kwargs.keys()))
        listed = resources.List(url, limit=limit, starting_after=starting_after)
        listed._list = list(by_type.get(cls.object, {}).values())
        return listed

    def compute_starting_pos(listed: Any) -> None:
        """Where the page starts: after `starting_after`, else at the first (as localstripe
        does, by one pass in C rather than one `getattr` per object in Python)."""
        if listed._starting_pos is not None:
            return
        listed._starting_pos = 0
        if listed._starting_after is not None:
            ids = [getattr(item, "id", None) for item in listed._list]
            with contextlib.suppress(ValueError):
                listed._starting_pos = ids.index(listed._starting_after) + 1

    resources.Store.try_load_from_disk = try_load_from_disk
    # The server's middleware calls this after every POST/PUT/DELETE: only mark the change.
    resources.Store.dump_to_disk = persistence.changed
    # The stock Store also re-pickles everything on each item set.
    resources.Store.__setitem__ = set_item
    resources.Store.__delitem__ = del_item
    resources.Store.clear = clear
    resources.StripeObject._api_list_all = classmethod(list_all)
    resources.List._compute_starting_pos = compute_starting_pos
    resources.Charge.refunds = property(charge_refunds)
    return persistence


def load_saved_cards(
    persistence: _Persistence, cards: list[tuple[str, str]]
) -> list[dict[str, str]]:
    """For each (account reference, test card such as `pm_card_visa`) a customer carrying the
    account in its metadata as `gateways.stripe_gateway` creates it, with the card attached,
    as if saved through the API; written to the store. Each card: the account, the customer
    id, the payment method id and the card's last four digits."""
    from localstripe import resources

    from gateways.protocol import ACCOUNT_METADATA_KEY, IDEMPOTENCY_METADATA_KEY

    saved = []
    for account, card in cards:
        customer = resources.Customer._api_create(
            metadata={
                ACCOUNT_METADATA_KEY: account,
                IDEMPOTENCY_METADATA_KEY: f"customer:{account}",
            }
        )
        method = resources.PaymentMethod._api_attach(
            resources.PaymentMethod._api_retrieve(card).id, customer=customer.id
        )
        saved.append(
            {"account": account, "customer": customer.id, "card": method.id,
             "last4": method.card["last4"]}
        )  # fmt: skip
    persistence.changed()
    persistence.save()
    return saved


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--from-scratch", action="store_true")
    parser.add_argument("--parent-pid", type=int, default=None)
    parser.add_argument(
        "--load-cards", action="store_true",
        help="Read [[account, card], ...] as JSON on stdin, save them, print what was saved.",
    )  # fmt: skip
    args = parser.parse_args(argv)

    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    lock = lock_state_dir(state_dir)
    if lock is None:
        print(f"another localstripe runs on {state_dir}", file=sys.stderr)
        sys.exit(LOCKED_EXIT_CODE)
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()} {args.parent_pid or ''}".strip().encode())
    port_file = state_dir / PORT_FILE_NAME
    port_file.unlink(missing_ok=True)  # left by an instance that was killed
    persistence = _relocate_store(state_dir / STATE_FILE_NAME)
    if not args.from_scratch:
        persistence.store.try_load_from_disk()
    if args.load_cards:
        cards = [(str(account), str(card)) for account, card in json.load(sys.stdin)]
        json.dump(load_saved_cards(persistence, cards), sys.stdout)
        return

    from localstripe import server
    from localstripe.server import app

    # localstripe indents its answers, which sends `json.dumps` down its pure-Python encoder:
    # a quarter of its CPU in a listing of payments. Compact, the C encoder writes them.
    server.json_response = _compact_json_response

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]

    async def publish_port(_: web.Application) -> AsyncIterator[None]:
        _write_atomically(port_file, str(port).encode())
        yield
        port_file.unlink(missing_ok=True)

    app.cleanup_ctx.append(persistence.context)
    app.cleanup_ctx.append(publish_port)
    if args.parent_pid is not None:
        app.cleanup_ctx.append(_stop_when_orphaned(args.parent_pid))
    web.run_app(app, sock=sock, access_log=None, print=None)


def _compact_json_response(data: Any, **kwargs: Any) -> web.Response:
    """localstripe's `json_response` (keys sorted, a final newline), without the indentation."""
    return web.json_response(
        data, dumps=lambda obj: json.dumps(obj, sort_keys=True) + "\n", **kwargs
    )


def _stop_when_orphaned(parent_pid: int) -> Any:
    """A cleanup context that stops the server (as SIGTERM would) when `parent_pid` exits,
    told by a pidfd becoming readable."""

    def stop() -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    async def context(_: web.Application) -> AsyncIterator[None]:
        try:
            pidfd = os.pidfd_open(parent_pid)
        except ProcessLookupError:  # gone already
            stop()
            yield
            return
        loop = asyncio.get_running_loop()
        loop.add_reader(pidfd, stop)
        try:
            yield
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)

    return context


if __name__ == "__main__":
    main()
