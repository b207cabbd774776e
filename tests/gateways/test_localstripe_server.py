"""The localstripe helper: private state per directory, kept across restarts; signed events."""

from __future__ import annotations

import asyncio
import socket
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from gateways.localstripe_server import LocalStripe, localstripe, running_localstripe
from gateways.stripe_gateway import StripeGateway
from gateways.webhooks import SIGNATURE_HEADER, WebhookEvent, construct_event


async def _customer(server: LocalStripe, account: str) -> str:
    async with StripeGateway(server.api_key, server.base_url) as gateway:
        return (await gateway.create_customer(account, idempotency_key=account)).id


async def _find(server: LocalStripe, account: str) -> str | None:
    async with StripeGateway(server.api_key, server.base_url) as gateway:
        customer = await gateway.find_customer(account)
    return None if customer is None else customer.id


async def test_state_lives_in_its_own_directory_and_survives_restart(tmp_path: Path) -> None:
    account = uuid.uuid4().hex
    async with localstripe(tmp_path / "a") as first:
        customer_id = await _customer(first, account)
        async with localstripe(tmp_path / "b") as other:
            assert other.base_url != first.base_url
            assert await _find(other, account) is None
    assert (tmp_path / "a" / "localstripe.pickle").exists()

    async with localstripe(tmp_path / "a") as again:
        assert await _find(again, account) == customer_id
    async with localstripe(tmp_path / "a", from_scratch=True) as fresh:
        assert await _find(fresh, account) is None


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sync_helper_stops_the_process_and_frees_its_port(tmp_path: Path) -> None:
    with running_localstripe(tmp_path / "s") as server:
        pid = server.pid
        port = urlsplit(server.base_url).port
        assert port is not None
        assert not _refused(port)
    # Exited and reaped: a zombie would still have its /proc entry.
    assert not Path(f"/proc/{pid}").exists()
    assert _refused(port)
    with socket.socket() as probe:  # nothing listens there any more: the port can be taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))
        probe.listen()


async def test_localstripe_events_verify_with_our_webhook_check(tmp_path: Path) -> None:
    secret = "whsec_" + uuid.uuid4().hex
    received: asyncio.Queue[WebhookEvent] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        event = construct_event(await request.read(), request.headers.get(SIGNATURE_HEADER), secret)
        await received.put(event)
        return web.Response()

    app = web.Application()
    app.router.add_post("/hooks", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    try:
        async with localstripe(tmp_path / "hooks") as server:
            await server.register_webhook(
                f"http://127.0.0.1:{port}/hooks", secret, events=["customer.created"]
            )
            customer_id = await _customer(server, "rider-1")
            event = await asyncio.wait_for(received.get(), timeout=10)
    finally:
        await runner.cleanup()
    assert (event.type, event.object_type, event.object_id) == (
        "customer.created",
        "customer",
        customer_id,
    )
