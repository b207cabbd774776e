"""Fixtures for the HTTP API: the real app (its own cleanup contexts open the database of
tests/conftest.py, SQLite and PostgreSQL, the Redis at 127.0.0.1:6379 and the session's
localstripe) behind aiohttp's test server, and signed device clients, each registered and
enrolled as a real device is (`tests.helpers.api`).

The app of `client` runs no pricing worker: one looks at its queue every second (two
transactions, more the longer a test takes on a loaded machine), and no test here that uses
this app waits for one. The tests price what they need themselves (`ingest_and_price`,
`tests.helpers.payments.tap_and_price`), so a day they queue stays queued while they look.
The app's own worker is tested in tests/pricing/test_worker_in_app.py and runs in the apps
the tests here make themselves (`make_config`'s default).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import ApiConfig
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, Device, make_config


@pytest.fixture
def api_config(tmp_path: Path, db_url: str, localstripe_server: LocalStripe) -> ApiConfig:
    return make_config(tmp_path, db_url, localstripe_server, pricing_worker=False)


@pytest.fixture
async def client(api_config: ApiConfig) -> AsyncIterator[Client]:
    async with TestClient(TestServer(create_app(api_config))) as test_client:
        yield test_client


@pytest.fixture
async def device(client: Client) -> Device:
    return await Device.enrol(client)


@pytest.fixture
def new_device(client: Client) -> Callable[[], Awaitable[Device]]:
    return lambda: Device.enrol(client)
