"""The operator page's devices over the whole app: a page at a time with a link to the next,
found by id, station and lot; a filter that cannot be one is a 422 with the reason."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import UOWS
from faregate.web import operator_source
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, make_config, token
from tests.helpers.devices import gate, register
from ticketing.users import UserRole


@pytest.fixture
async def client(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> AsyncIterator[Client]:
    config = make_config(tmp_path, db_url, localstripe_server)
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


async def _listed(client: Client, bearer: str, query: str) -> tuple[list[str], str | None]:
    """The device ids the page lists for `query`, and its link to the next page."""
    answer = await client.get(f"/operator?{query}", headers={"Authorization": f"Bearer {bearer}"})
    assert answer.status == 200, await answer.text()
    page = await answer.text()
    following = re.search(r'<a href="([^"]+)" rel="next"', page)
    ids = re.findall(r'<tr data-device-id="([^"]+)"', page)
    return ids, None if following is None else html.unescape(following.group(1))


async def test_devices_are_paged_and_found_by_id_and_station(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operator_source, "PAGE_SIZE", 2)
    uows = client.server.app[UOWS]
    tag = secrets.token_hex(3)
    ids = [f"gate-{tag}-{n}" for n in range(3)]
    for device, stop in zip(ids, ("m2a_03", "m2a_04", "m2a_04"), strict=True):
        await register(uows, device, gate(stop))
    ops = await token(client, UserRole.OPERATOR)

    first, following = await _listed(client, ops, f"search={tag}")
    assert first == ids[:2]
    assert following == f"?search={tag}&after={ids[1]}#devices"
    rest, last = await _listed(client, ops, following.split("#")[0][1:])
    assert (rest, last) == (ids[2:], None)
    assert (await _listed(client, ops, f"search={tag}&station=m2a_04")) == (ids[1:], None)
    assert (await _listed(client, ops, f"search={tag}&lot=no-such-lot")) == ([], None)


@pytest.mark.parametrize(
    ("query", "says"),
    [("after=a%20b", "after 'a b' is not a device id"),
     ("station=%01", "station '\\x01' is not a stop id"),
     (f"search={'x' * 65}", "search 'xxx")],
)  # fmt: skip
async def test_a_filter_that_cannot_be_one_is_a_422(client: Client, query: str, says: str) -> None:
    ops = await token(client, UserRole.OPERATOR)
    answer = await client.get(f"/operator?{query}", headers={"Authorization": f"Bearer {ops}"})
    assert answer.status == 422
    problem = await answer.json()
    assert problem["detail"].startswith(says), problem
