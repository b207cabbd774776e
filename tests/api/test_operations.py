"""Health, metrics, problem+json for unknown routes, and the OpenAPI document's validity."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from faregate.api.app import api_routes, create_app
from faregate.api.context import REDIS
from faregate.api.problems import PROBLEM_JSON
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, Device, make_config


async def test_healthz_ok_when_database_redis_keys_and_feed_are_there(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {
        "status": "ok", "database": "ok", "redis": "ok", "keys": "ok", "fare_feed": "ok"
    }  # fmt: skip


@pytest.mark.parametrize("keys", ["none", "expired"])
async def test_healthz_is_503_while_no_keys_can_issue_a_credential(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe, keys: str
) -> None:
    config = make_config(tmp_path, db_url, localstripe_server)
    if keys == "none":
        config = replace(config, keys_dir=tmp_path / "no-keys")
    else:
        config = replace(config, clock=lambda: datetime.now(UTC) + timedelta(days=3650))
    async with TestClient(TestServer(create_app(config))) as client:
        response = await client.get("/healthz")
        assert response.status == 503
        assert response.content_type == PROBLEM_JSON
        assert (await response.json())["detail"] == (
            "database: ok; redis: ok; keys: missing (no issuer and liveness keys in force); "
            "fare feed: ok"
        )


async def test_with_a_private_redis_healthz_turns_503_when_it_goes_away(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    config = make_config(tmp_path, db_url, localstripe_server, redis_url=None)
    async with TestClient(TestServer(create_app(config))) as client:
        device = await Device.enrol(client)
        assert (await client.get("/healthz")).status == 200
        headers = device.headers("GET", "/device/v1/keyset")
        assert (await client.get("/device/v1/keyset", headers=headers)).status == 200
        replayed = await client.get("/device/v1/keyset", headers=headers)
        assert replayed.status == 401  # nonces live in the private server too
        app = client.server.app
        assert app is not None
        await app[REDIS].shutdown(nosave=True)  # the server goes away under the app
        response = await client.get("/healthz")
        assert response.status == 503
        assert response.content_type == PROBLEM_JSON
        detail = (await response.json())["detail"]
        assert detail.startswith("database: ok; redis: unreachable")
        assert detail.endswith("; keys: ok; fare feed: ok")
    assert not (tmp_path / "var" / "redis" / "redis.sock").exists()


async def test_unknown_route_and_method_are_problems(client: Client) -> None:
    missing = await client.get("/no/such/route")
    assert missing.status == 404
    assert missing.content_type == PROBLEM_JSON
    assert (await missing.json())["title"] == "Not Found"
    wrong = await client.delete("/healthz")
    assert wrong.status == 405
    assert wrong.content_type == PROBLEM_JSON
    assert "GET" in wrong.headers["Allow"]


async def test_metrics_count_requests_and_ingested_taps(client: Client, device: Device) -> None:
    records = [device.record() for _ in range(3)]
    body = json.dumps({"records": records}).encode()
    assert (await device.post("/device/v1/journal", body)).status == 200
    await client.get("/healthz")
    text = await (await client.get("/metrics")).text()
    assert (
        'faregate_http_requests_total{method="POST",route="/device/v1/journal",status="200"}'
        in (text)
    )
    assert "faregate_taps_ingested_total 3.0" in text
    assert 'faregate_http_request_duration_seconds_count{method="GET",route="/healthz"}' in text


async def test_openapi_document_is_valid_and_lists_every_route(client: Client) -> None:
    response = await client.get("/openapi.json")
    document = await response.json()
    validate(document)  # raises on an invalid OpenAPI 3.1 document
    assert document["openapi"] == "3.1.0"
    for route in api_routes().routes:
        assert route.method.lower() in document["paths"][route.path]
    upload = document["paths"]["/device/v1/journal"]["post"]
    assert upload["security"] == [{"deviceSignature": []}]
    assert set(upload["responses"]) >= {"200", "401", "403", "413", "422", "429"}
    record = document["components"]["schemas"]["JournalRecord"]
    assert record["properties"]["at"]["format"] == "date-time"
    assert record["additionalProperties"] is False


def test_api_doc_names_every_user_route() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "API.md").read_text()
    for route in api_routes().routes:
        if route.path.startswith("/api/v1/") and "passenger" not in route.path:
            assert route.path in doc, route.path


def test_device_api_doc_names_every_device_route() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "DEVICE-API.md").read_text()
    for route in api_routes().routes:
        if route.path.startswith("/device/"):
            assert route.path in doc
