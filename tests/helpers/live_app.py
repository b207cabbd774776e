"""The whole app (`create_app`) served on a loopback port from a thread of its own, for the
browser tests that run on real data, and what a passenger does there: register, sign in, show
the live code; and a gate's verdict on that code, with the deny list a gate enrolled there gets
from the device API.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

from aiohttp import web
from playwright.sync_api import Page

from faregate.api.app import create_app
from faregate.api.context import UOWS, ApiConfig
from qr.decision import Reason
from qr.decode import decode_image
from qr.denylist import DenyList
from qr.keys import load_keys
from qr.memory import GateMemory
from qr.verifier import GateContext, Verifier, VerifierPolicy
from simulators.device_client import DeviceClient
from tests.helpers.devices import device_id, enrolled_client, gate
from tests.helpers.http import loopback_sync
from ticketing.unit_of_work import UnitOfWorkFactory

T = TypeVar("T")
PASSWORD = "a long enough password"
GATE = GateContext("M2A-01-G3")


@dataclass
class LiveApp:
    url: str
    config: ApiConfig
    loop: asyncio.AbstractEventLoop
    app: web.Application
    gates: list[DeviceClient] = field(default_factory=list)  # the one enrolled, once asked

    def run(self, coroutine: Awaitable[T]) -> T:
        """Run on the server's own loop (its database engine lives there)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=60)  # type: ignore[arg-type]

    @property
    def uows(self) -> UnitOfWorkFactory:
        return self.app[UOWS]

    async def _deny_list(self) -> DenyList:
        """The whole deny list as a gate enrolled here fetches it (`GET /device/v1/deny-list`)."""
        if not self.gates:
            self.gates.append(await enrolled_client(self.uows, self.url, device_id(), gate()))
        return await self.gates[0].sync_deny_list(None)

    def reason(self, token: str, at: datetime) -> Reason:
        """A gate's decision at `at`, with the deny list the device API hands it now."""
        keys = load_keys(self.config.keys_dir)
        deny = self.run(self._deny_list())
        verifier = Verifier(keys.keyset, keys.secure_module(), VerifierPolicy(), deny)
        return verifier.verify(token, at=at, gate=GATE, memory=GateMemory()).reason

    def accepted(self, token: str) -> bool:
        return self.reason(token, datetime.now(UTC)) is Reason.ACCEPTED


@dataclass(frozen=True)
class Rider:
    username: str
    account_id: str


def register(
    live: LiveApp, *, card: bool = True, top_up: int = 0, mode: str = "prepaid_wallet"
) -> Rider:
    username = f"rider-{secrets.token_hex(4)}"
    with loopback_sync(live.url, timeout=30) as http:
        answer = http.post(
            "/api/v1/passengers",
            json={"username": username, "password": PASSWORD, "payment_mode": mode},
        )
        assert answer.status_code == 200, answer.text
        account_id = answer.json()["account_id"]
        if card or top_up:
            token = http.post(
                "/api/v1/sessions", json={"username": username, "password": PASSWORD}
            ).json()["token"]
            auth = {"Authorization": f"Bearer {token}"}
            saved = http.post(
                "/api/v1/passenger/card", json={"payment_method": "pm_card_visa"}, headers=auth
            )
            assert saved.status_code == 200, saved.text
            if top_up:
                paid = http.post(
                    "/api/v1/passenger/top-ups",
                    json={"amount": top_up, "request_id": "setup"},
                    headers=auth,
                )
                assert paid.json()["status"] == "succeeded", paid.text
            http.delete("/api/v1/sessions/current", headers=auth)
    return Rider(username, account_id)


@contextmanager
def serving(config: ApiConfig) -> Iterator[LiveApp]:
    """The app for `config` on a free loopback port, its event loop in a thread, until the
    block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="live-app", daemon=True)
    thread.start()
    app = create_app(config)
    runner = web.AppRunner(app)

    async def start() -> int:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return int(runner.addresses[0][1])

    port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=120)
    live = LiveApp(f"http://127.0.0.1:{port}", config, loop, app)
    try:
        yield live
    finally:
        for client in live.gates:
            live.run(client.aclose())
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


def sign_in(page: Page, live: LiveApp, rider: Rider, password: str = PASSWORD) -> None:
    page.goto(f"{live.url}/")
    page.locator("#username").fill(rider.username)
    page.locator("#password").fill(password)
    page.get_by_role("button", name="Sign in").click()


# A code is drawn (it has a step) and the app has settled: while the account fills in, the pass
# card grows above the code and moves it, and a screenshot of the code taken meanwhile can clip
# it (an element's screenshot is cut where the element was a moment before).
CODE_SETTLED = """() => document.querySelector('#qr')?.dataset.step !== undefined
    && document.querySelector('[aria-busy="true"]') === null"""


def shown_token(page: Page) -> str:
    """The token of the code the page shows, read off a screenshot of it once it stands still."""
    page.wait_for_function(CODE_SETTLED)
    return decode_image(page.locator("#qr").screenshot())
