"""Bearer sessions over HTTP and the role rules of Auth.PASSENGER / OPERATOR / FINANCE."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from faregate.api.context import UOWS, ApiConfig
from faregate.api.problems import PROBLEM_JSON
from faregate.api.rate_limit import RateLimit
from faregate.api.registry import Auth, Call, RouteRegistry
from faregate.api.routes.sessions import UserDocument
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, make_config
from ticketing.services.users import ScryptCost, create_user
from ticketing.users import UserRole

PASSWORD = "correct horse battery"
CHEAP = ScryptCost(n=2**8)


def unique(name: str) -> str:
    """Usernames per test run: sign-in and passenger rate limits live in the shared Redis."""
    return f"{name}-{secrets.token_hex(4)}"


async def add_user(client: Client, name: str, role: UserRole, account: str | None = None) -> str:
    username = unique(name)
    uows = client.server.app[UOWS]
    await create_user(uows, username, PASSWORD, role, account_id=account, cost=CHEAP)
    return username


async def token_of(client: Client, name: str, role: UserRole, account: str | None = None) -> str:
    username = await add_user(client, name, role, account)
    response = await client.post(
        "/api/v1/sessions", json={"username": username, "password": PASSWORD}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["token_type"] == "Bearer"
    assert body["user"] == {"username": username, "role": role.value, "account_id": account}
    assert body["expires_at"].endswith("Z") or "+" in body["expires_at"]
    return str(body["token"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_sign_in_me_and_sign_out(client: Client) -> None:
    token = await token_of(client, "ops", UserRole.OPERATOR)
    me = await (await client.get("/api/v1/me", headers=bearer(token))).json()
    assert me["username"].startswith("ops-")
    assert (me["role"], me["account_id"]) == ("operator", None)
    out = await client.delete("/api/v1/sessions/current", headers=bearer(token))
    assert await out.json() == {"revoked": True}
    again = await client.get("/api/v1/me", headers=bearer(token))
    assert again.status == 401
    assert again.content_type == PROBLEM_JSON
    assert again.headers["WWW-Authenticate"].startswith("Bearer")
    assert "revoked" in (await again.json())["detail"]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "missing Authorization"),
        ({"Authorization": "Basic b3BzOnB3"}, "malformed"),
        ({"Authorization": "Bearer "}, "malformed"),
        ({"Authorization": "Bearer " + "x" * 500}, "malformed"),
        ({"Authorization": "Bearer not-a-token"}, "unknown"),
    ],
)
async def test_missing_or_bad_tokens_are_401(
    client: Client, headers: dict[str, str], detail: str
) -> None:
    response = await client.get("/api/v1/me", headers=headers)
    assert response.status == 401
    assert response.content_type == PROBLEM_JSON
    assert detail in (await response.json())["detail"]


async def test_wrong_password_and_unknown_user_answer_alike(client: Client) -> None:
    fin = await add_user(client, "fin", UserRole.FINANCE)
    wrong = await client.post("/api/v1/sessions", json={"username": fin, "password": "nope"})
    unknown = await client.post(
        "/api/v1/sessions", json={"username": unique("x"), "password": "nope"}
    )
    assert wrong.status == unknown.status == 401
    assert await wrong.json() == await unknown.json()


# Failed sign-ins get growing delays per username and client: tests/api/test_sign_in_limits.py


# --- role rules on routes declared with each Auth -----------------------------------------

probe_routes = RouteRegistry()


def _probe(auth: Auth) -> None:
    @probe_routes.route(
        "GET", f"/test/{auth.value}", summary="probe", tag="test", auth=auth,
        response=UserDocument,
    )  # fmt: skip
    async def probe(call: Call) -> UserDocument:
        return UserDocument.of(call.user)


for _auth in (Auth.PASSENGER, Auth.OPERATOR, Auth.FINANCE, Auth.SIGNED_IN):
    _probe(_auth)


@pytest.fixture
def api_config(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe, monkeypatch: pytest.MonkeyPatch
) -> ApiConfig:
    """The app with one probe route per bearer Auth, and a passenger limit of 3 a minute."""
    from faregate.api import app as app_module

    original = app_module.api_routes

    def with_probes(**backends: bool) -> RouteRegistry:
        registry = original(**backends)
        registry.extend(probe_routes)
        return registry

    monkeypatch.setattr(app_module, "api_routes", with_probes)
    return make_config(
        tmp_path,
        db_url,
        localstripe_server,
        passenger_rate=RateLimit(requests=3, window_seconds=60),
    )


async def test_each_role_reaches_only_its_routes(client: Client) -> None:
    tokens = {
        UserRole.PASSENGER: await token_of(client, "rider", UserRole.PASSENGER, "acct-9"),
        UserRole.OPERATOR: await token_of(client, "ops", UserRole.OPERATOR),
        UserRole.FINANCE: await token_of(client, "fin", UserRole.FINANCE),
    }
    for role, token in tokens.items():
        for auth in (Auth.PASSENGER, Auth.OPERATOR, Auth.FINANCE):
            response = await client.get(f"/test/{auth.value}", headers=bearer(token))
            expected = 200 if auth.value == role.value else 403
            assert response.status == expected, (role, auth)
            if expected == 403:
                assert response.content_type == PROBLEM_JSON
        anyone = await client.get("/test/signed-in", headers=bearer(token))
        assert (await anyone.json())["role"] == role.value
    rider = await client.get("/test/passenger", headers=bearer(tokens[UserRole.PASSENGER]))
    assert (await rider.json())["account_id"] == "acct-9"


async def test_passenger_routes_are_rate_limited_per_passenger(client: Client) -> None:
    busy = await token_of(client, "busy", UserRole.PASSENGER, "acct-busy")
    calm = await token_of(client, "calm", UserRole.PASSENGER, "acct-calm")
    statuses = [
        (await client.get("/test/passenger", headers=bearer(busy))).status for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    limited = await client.get("/test/passenger", headers=bearer(busy))
    assert limited.content_type == PROBLEM_JSON
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await client.get("/test/passenger", headers=bearer(calm))).status == 200
    # staff are not counted against a passenger limit
    ops = await token_of(client, "ops", UserRole.OPERATOR)
    for _ in range(5):
        assert (await client.get("/test/operator", headers=bearer(ops))).status == 200


async def test_openapi_declares_bearer_security(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    assert document["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"
    me = document["paths"]["/api/v1/me"]["get"]
    assert me["security"] == [{"bearerToken": []}]
    assert {"401", "403"} <= set(me["responses"])
