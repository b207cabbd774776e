"""Run localstripe with its state file in a directory of our choosing.

localstripe pickles its whole store to the fixed `/tmp/localstripe.pickle` and reloads it at
start, so two instances (parallel test runs, the demo, a later settlement) would share and
clobber one file. This launcher points the store at `STATE_DIR/localstripe.pickle`, writes it
atomically, binds a loopback port (0: any free one) and publishes the bound port in
`STATE_DIR/port` once it listens, so the parent never races for a port.

    python -m gateways._localstripe_launcher --state-dir D [--port N] [--from-scratch]
"""

from __future__ import annotations

import argparse
import os
import pickle
import socket
from pathlib import Path
from typing import Any

from aiohttp import web

STATE_FILE_NAME = "localstripe.pickle"
PORT_FILE_NAME = "port"


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _relocate_store(state_file: Path) -> Any:
    """Patch localstripe's Store to persist at `state_file`; returns the store."""
    from localstripe import resources

    def try_load_from_disk(store: dict[str, Any]) -> None:
        try:
            old = pickle.loads(state_file.read_bytes())
        except FileNotFoundError:
            return
        store.clear()
        store.update(old)

    def dump_to_disk(store: dict[str, Any]) -> None:
        _write_atomically(state_file, pickle.dumps(store, protocol=pickle.HIGHEST_PROTOCOL))

    resources.Store.try_load_from_disk = try_load_from_disk
    resources.Store.dump_to_disk = dump_to_disk
    # The stock Store re-pickles everything on each item set: quadratic in the store size.
    # The server's middleware already dumps once after every POST/PUT/DELETE, before the
    # answer is sent, so nothing a client saw acknowledged is lost without the extra dumps.
    resources.Store.__setitem__ = dict.__setitem__
    resources.Store.__delitem__ = dict.__delitem__
    return resources.store


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--from-scratch", action="store_true")
    args = parser.parse_args(argv)

    state_dir: Path = args.state_dir
    state_dir.mkdir(parents=True, exist_ok=True)
    store = _relocate_store(state_dir / STATE_FILE_NAME)
    if not args.from_scratch:
        store.try_load_from_disk()

    from localstripe.server import app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    port = sock.getsockname()[1]

    async def publish_port(_: web.Application) -> None:
        _write_atomically(state_dir / PORT_FILE_NAME, str(port).encode())

    app.on_startup.append(publish_port)
    web.run_app(app, sock=sock, access_log=None, print=None)


if __name__ == "__main__":
    main()
