"""The operator API's lots as tests make them: a new lot's document, a lot created through the
API, and the check of a problem answer (shared by the lots, parking operations and open-data
tests)."""

from __future__ import annotations

import json
import secrets
from typing import Any

from tests.helpers.api import Client, call

PROBLEM_JSON = "application/problem+json"


def new_lot(lot_id: str, **changes: Any) -> dict[str, Any]:
    return {
        "lot_id": lot_id,
        "name": "Lý Thái Tổ on-street",
        "operator": "iparking-hanoi",
        "capacity": 30,
        "reserved": 2,
        "tariff_name": "hanoi-car",
        "kind": "on-street",
        "latitude": 21.02889,
        "longitude": 105.8525,
        "permit_price": 3_000_000,
        **changes,
    }


async def problem(response: Any, status: int, kind: str) -> dict[str, Any]:
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == PROBLEM_JSON, text
    document: dict[str, Any] = json.loads(text)
    assert document["type"] == f"urn:faregate:problem:{kind}", document
    assert document["detail"], document
    return document


async def created(client: Client, ops: str, **changes: Any) -> dict[str, Any]:
    lot_id = f"street-{secrets.token_hex(4)}"
    answer = await call(client, "POST", "/api/v1/operator/lots", new_lot(lot_id, **changes), ops)
    assert answer.status == 200, await answer.text()
    lot: dict[str, Any] = await answer.json()
    return lot
