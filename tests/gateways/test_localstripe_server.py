"""The localstripe helper: private state per directory, kept across restarts, one instance per
directory (a second start reuses it); signed events."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from gateways.errors import GatewayUnavailable
from gateways.localstripe_server import (
    LocalStripe,
    localstripe,
    running_localstripe,
    start_localstripe,
    stop_localstripe,
)
from gateways.protocol import PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway
from gateways.webhooks import SIGNATURE_HEADER, WebhookEvent, construct_event
from tests.helpers.waiting import until_sync


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


async def test_a_second_start_on_a_running_directory_reuses_that_localstripe(
    tmp_path: Path,
) -> None:
    """`faregate settle` while `faregate serve` runs on one data directory: one localstripe,
    so neither loses the other's payments (two would each keep their own store and overwrite
    each other's file)."""
    state = tmp_path / "shared"
    async with localstripe(state) as first:
        assert not first.reused
        async with localstripe(state) as second:
            assert second.reused
            assert (second.base_url, second.pid) == (first.base_url, first.pid)
            made_by_second = await _customer(second, "rider-second")
            assert await _find(first, "rider-second") == made_by_second
        # The reuser does not stop what it did not start.
        made_by_first = await _customer(first, "rider-first")
        assert await _find(first, "rider-second") == made_by_second
    port = urlsplit(first.base_url).port
    assert port is not None
    assert _refused(port)
    async with localstripe(state) as again:  # the owner stopped it: the next start owns one
        assert not again.reused
        assert await _find(again, "rider-first") == made_by_first


async def test_starting_from_scratch_over_a_running_localstripe_is_refused(
    tmp_path: Path,
) -> None:
    async with localstripe(tmp_path / "busy") as running:
        account = uuid.uuid4().hex
        customer_id = await _customer(running, account)
        with pytest.raises(GatewayUnavailable, match="another process runs a localstripe"):
            async with localstripe(tmp_path / "busy", from_scratch=True):
                pass
        assert await _find(running, account) == customer_id


def test_starters_racing_for_one_directory_share_one_localstripe(tmp_path: Path) -> None:
    state = tmp_path / "race"
    state.mkdir()
    ready = threading.Barrier(3)

    def start() -> tuple[LocalStripe, subprocess.Popen[bytes] | None]:
        ready.wait()
        return start_localstripe(state)

    with ThreadPoolExecutor(3) as pool:
        started = list(pool.map(lambda _: start(), range(3)))
    try:
        assert len({server.base_url for server, _ in started}) == 1
        assert sum(process is not None for _, process in started) == 1
    finally:
        for _, process in started:
            stop_localstripe(process)


def test_a_localstripe_whose_starter_was_killed_stops_and_frees_the_directory(
    tmp_path: Path,
) -> None:
    state = tmp_path / "orphan"
    starter = subprocess.Popen(
        [sys.executable, "-c", _STARTER, str(state)], stdout=subprocess.PIPE, text=True
    )
    assert starter.stdout is not None
    pid = int(starter.stdout.readline())
    starter.kill()
    starter.wait()
    until_sync(lambda: not Path(f"/proc/{pid}").exists(), "the orphaned localstripe stops")
    with running_localstripe(state) as fresh:
        assert not fresh.reused


# Starts a localstripe, says its pid, then waits to be killed (never stopping it itself).
_STARTER = """
import sys, threading
from pathlib import Path
from gateways.localstripe_server import start_localstripe
server, _ = start_localstripe(Path(sys.argv[1]))
print(server.pid, flush=True)
threading.Event().wait()
"""


async def test_cards_loaded_into_a_stopped_store_are_found_and_charged(tmp_path: Path) -> None:
    """`--load-cards`: customers with saved cards added in one step (a city's card holders of
    earlier days) are what saving through the API makes: found by account, chargeable."""
    loader = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "gateways._localstripe_launcher", "--state-dir",
         str(tmp_path / "s"), "--load-cards"],
        input='[["acc-a", "pm_card_visa"], ["acc-b", "pm_card_visa"]]', capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    saved = {card["account"]: card for card in json.loads(loader.stdout)}
    assert sorted(saved) == ["acc-a", "acc-b"]
    assert saved["acc-a"]["last4"] == "4242"
    async with (
        localstripe(tmp_path / "s") as server,
        StripeGateway(server.api_key, server.base_url) as gateway,
    ):
        found = await gateway.find_customer("acc-b")
        assert found is not None
        assert found.id == saved["acc-b"]["customer"]
        payment = await gateway.create_payment(
            PaymentRequest(
                customer_id=found.id, payment_method_id=saved["acc-b"]["card"], amount=12_000,
                currency="VND", idempotency_key="charge-acc-b", off_session=True,
            )
        )  # fmt: skip
    assert payment.status is PaymentStatus.SUCCEEDED
    assert payment.amount == 12_000
