"""/openapi.json and the device routes: every one has an example of its answer (and of its
body, where it takes one) that its own models decode as they decode a request, and every
signed one names the device signature scheme, which says how to sign."""

from __future__ import annotations

import msgspec
import pytest

from faregate.api.device_examples import DEVICE_EXAMPLES
from faregate.api.registry import Auth, Route
from faregate.api.routes import device, device_registry, parking
from tests.helpers.api import Client

DEVICE_ROUTES = [
    route
    for registry in (device.routes, device_registry.routes, parking.routes)
    for route in registry.routes
    if route.path.startswith("/device/")
]


def test_every_device_route_has_examples() -> None:
    assert {(r.method, r.path) for r in DEVICE_ROUTES} == set(DEVICE_EXAMPLES)


@pytest.mark.parametrize("route", DEVICE_ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_each_example_is_what_the_route_reads_and_answers(route: Route) -> None:
    example = DEVICE_EXAMPLES[(route.method, route.path)]
    assert route.response is not None
    msgspec.json.decode(msgspec.json.encode(example["response"]), type=route.response)
    if route.body is None:
        assert "request" not in example
    else:
        msgspec.json.decode(msgspec.json.encode(example["request"]), type=route.body)


async def test_the_document_carries_the_examples_and_the_scheme(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    scheme = document["components"]["securitySchemes"]["deviceSignature"]
    assert "FG-HMAC-SHA256" in scheme["description"]
    assert "X-Faregate-Nonce" in scheme["description"]
    for route in DEVICE_ROUTES:
        operation = document["paths"][route.path][route.method.lower()]
        answer = operation["responses"]["200"]["content"]["application/json"]
        assert answer["example"] == DEVICE_EXAMPLES[(route.method, route.path)]["response"]
        if route.body is not None:
            body = operation["requestBody"]["content"]["application/json"]
            assert "example" in body
        signed = route.auth is Auth.DEVICE
        assert (operation.get("security") == [{"deviceSignature": []}]) is signed
