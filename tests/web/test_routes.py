"""add_web_routes on a plain aiohttp app: the page, its headers, its static files. No browser."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from faregate.web import add_web_routes
from faregate.web.pages import STATIC_DIR
from qr.issue import PhoneCredential


async def client_for(app: web.Application) -> TestClient[web.Request, web.Application]:
    client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client(passes: Any) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async def source(request: web.Request) -> PhoneCredential | None:
        return passes.named(request.query.get("pass", "live"))

    app = web.Application()
    add_web_routes(app, source)
    client = await client_for(app)
    yield client
    await client.close()


async def test_the_page_embeds_the_pass_document_once(
    client: TestClient[Any, Any], passes: Any
) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    html = await response.text()
    embedded = re.search(r'<script type="application/json" id="credential">(.*?)</script>', html)
    assert embedded is not None
    # The readable id copy is a string: ids reach 2**63, beyond a JavaScript Number.
    expected = {**passes.live.to_json(), "credential_id": "4711"}
    assert json.loads(embedded.group(1)) == expected
    assert '<script type="module" src="/static/js/passenger-page.js"></script>' in html


async def test_the_page_forbids_other_origins_and_caching(client: TestClient[Any, Any]) -> None:
    response = await client.get("/")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["Cache-Control"] == "no-store"
    html = await response.text()
    assert not re.search(r'(src|href)="(https?:)?//', html), "the page links another host"


async def test_every_asset_the_page_names_is_served(client: TestClient[Any, Any]) -> None:
    html = await (await client.get("/")).text()
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert len(assets) == 3
    for path in [*assets, "/static/js/token.js", "/static/js/passenger.js"]:
        response = await client.get(path)
        assert response.status == 200, path


@pytest.mark.parametrize(
    "path",
    [
        "/static/js/token.js",
        "/static/js/passenger.js",
        "/static/vendor/qrcode-generator/qrcode.mjs",
    ],
)
async def test_modules_are_served_as_javascript(client: TestClient[Any, Any], path: str) -> None:
    # Browsers refuse an ES module served with any other type.
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type in {"text/javascript", "application/javascript"}


def test_the_vendored_library_carries_its_licence() -> None:
    vendor = STATIC_DIR / "vendor" / "qrcode-generator"
    assert "MIT License" in (vendor / "LICENSE").read_text(encoding="utf-8")
    assert "Copyright (c) 2009 Kazuhiko Arase" in (vendor / "LICENSE").read_text(encoding="utf-8")
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    assert "qrcode-generator 2.0.4" in readme
    assert "Licensed under the MIT license" in (vendor / "qrcode.mjs").read_text(encoding="utf-8")


async def test_without_a_source_the_page_signs_the_passenger_in() -> None:
    """The app's own mounting: no pass is embedded; the page signs in through the API."""
    app = web.Application()
    add_web_routes(app)
    client = await client_for(app)
    try:
        response = await client.get("/")
        html = await response.text()
    finally:
        await client.close()
    assert response.status == 200
    assert 'id="sign-in-form"' in html
    assert "account-page.js" in html
    assert 'id="credential"' not in html


async def test_a_source_without_a_pass_says_so() -> None:
    async def nobody(request: web.Request) -> PhoneCredential | None:
        return None

    app = web.Application()
    add_web_routes(app, nobody)
    client = await client_for(app)
    try:
        html = await (await client.get("/", headers={"Accept-Language": "en"})).text()
    finally:
        await client.close()
    assert "No pass on this device" in html
    assert 'id="credential"' not in html


async def test_a_missing_static_file_is_404(client: TestClient[Any, Any]) -> None:
    response = await client.get("/static/js/nothing.js")
    assert response.status == 404
    response = await client.get("/static/../pages.py")
    assert response.status in {403, 404}


async def test_the_page_carries_the_server_time_for_the_clock_check(passes: Any) -> None:
    app = web.Application()
    at = datetime(2026, 3, 15, 17, 45, 59, 250_000, tzinfo=UTC)

    async def source(request: web.Request) -> PhoneCredential | None:
        return passes.live

    add_web_routes(app, source, clock=lambda: at)
    client = await client_for(app)
    try:
        html = await (await client.get("/")).text()
    finally:
        await client.close()
    assert 'data-server-time-ms="1773596759250"' in html
