"""The passenger API over HTTP (the real app, SQLite and PostgreSQL, the session's localstripe):
register, sign in and out, card, top-up, pass, the credential fetched once (a second fetch
denies the first), trips, charges, receipts, lost phone; a passenger sees only their own
account."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import UOWS, ApiConfig
from faregate_data import HANOI_FEED
from gateways.localstripe_server import LocalStripe
from qr.issue import PhoneCredential
from qr.keys import load_keys
from qr.memory import GateMemory
from qr.verifier import GateContext, Verifier, VerifierPolicy
from tests.helpers.api import Client, make_config
from tests.helpers.payments import ride_the_metro
from ticketing.fares.feed import load_feed
from ticketing.services.riders import deny_list_snapshot
from ticketing.services.users import ScryptCost, create_user
from ticketing.users import UserRole

PASSWORD = "a long enough password"
PROBLEM_JSON = "application/problem+json"


class Passenger:
    """A registered, signed-in passenger making requests with their bearer token."""

    def __init__(self, client: Client, username: str, account_id: str, token: str) -> None:
        self.client = client
        self.username = username
        self.account_id = account_id
        self.token = token

    async def sign_in_again(self) -> None:
        self.token = await _sign_in(self.client, self.username)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def get(self, path: str) -> Any:
        return await self.client.get(path, headers=self.auth)

    async def post(self, path: str, body: Any = None) -> Any:
        if body is None:
            return await self.client.post(path, headers=self.auth)
        return await self.client.post(path, json=body, headers=self.auth)


async def register(client: Client, mode: str = "prepaid_wallet") -> Passenger:
    username = f"rider-{secrets.token_hex(5)}"
    response = await client.post(
        "/api/v1/passengers",
        json={"username": username, "password": PASSWORD, "payment_mode": mode},
    )
    assert response.status == 200, await response.text()
    registered = await response.json()
    assert registered["username"] == username
    assert registered["payment_mode"] == mode
    return Passenger(client, username, registered["account_id"], await _sign_in(client, username))


async def _sign_in(client: Client, username: str) -> str:
    session = await client.post(
        "/api/v1/sessions", json={"username": username, "password": PASSWORD}
    )
    assert session.status == 200, await session.text()
    token: str = (await session.json())["token"]
    return token


def accepted(config: ApiConfig, phone: PhoneCredential, deny: Any) -> bool:
    keys = load_keys(config.keys_dir)
    verifier = Verifier(keys.keyset, keys.secure_module(), VerifierPolicy(), deny)
    at = datetime.now(UTC)
    decision = verifier.verify(
        phone.token_at(at), at=at, gate=GateContext("M2A-01-G1"), memory=GateMemory()
    )
    return bool(decision.accepted)


async def test_register_sign_in_and_read_the_account(client: Client) -> None:
    rider = await register(client)
    response = await rider.get("/api/v1/passenger/account")
    assert response.status == 200
    account = await response.json()
    assert account == {
        "account_id": rider.account_id,
        "username": rider.username,
        "payment_mode": "prepaid_wallet",
        "rider_category": "regular",
        "standing": "active",
        "balance": {"amount": 0, "currency": "VND"},
        "owed": {"amount": 0, "currency": "VND"},
        "card_saved": False,
        "card_last4": None,
        "live_credentials": 0,
    }


async def test_registering_a_taken_username_or_a_short_password_is_refused(
    client: Client,
) -> None:
    rider = await register(client)
    again = await client.post(
        "/api/v1/passengers", json={"username": rider.username, "password": PASSWORD}
    )
    assert again.status == 409
    assert again.content_type == PROBLEM_JSON
    short = await client.post(
        "/api/v1/passengers", json={"username": "someone-new", "password": "short"}
    )
    assert short.status == 422
    assert "password" in (await short.json())["detail"]


async def test_card_top_up_pass_and_receipts(client: Client) -> None:
    rider = await register(client)
    no_card = await rider.post("/api/v1/passenger/top-ups", {"amount": 50_000, "request_id": "a"})
    assert no_card.status == 409
    assert (await no_card.json())["type"].endswith(":no-card")
    unknown = await rider.post("/api/v1/passenger/card", {"payment_method": "0"})
    assert unknown.status == 422, await unknown.text()  # the passenger's mistake, not a 502
    assert (await unknown.json())["type"].endswith(":payment-method")
    card = await rider.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
    assert card.status == 200, await card.text()

    body = {"amount": 300_000, "request_id": "first-top-up"}
    paid = await (await rider.post("/api/v1/passenger/top-ups", body)).json()
    assert paid["status"] == "succeeded"
    again = await (await rider.post("/api/v1/passenger/top-ups", body)).json()
    assert again["attempt_id"] == paid["attempt_id"]  # the same request id is the same payment
    other = await rider.post("/api/v1/passenger/top-ups", {**body, "amount": 100_000})
    assert other.status == 409, await other.text()  # was a 500 (AttemptConflict)
    assert (await other.json())["type"].endswith(":request-id-reused")

    bought = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
    assert bought.status == 200, await bought.text()
    price = (await bought.json())["price"]["amount"]
    not_sold = await rider.post("/api/v1/passenger/passes", {"product_id": "no_such_pass"})
    assert not_sold.status == 409

    account = await (await rider.get("/api/v1/passenger/account")).json()
    assert account["balance"] == {"amount": 300_000 - price, "currency": "VND"}
    assert account["card_saved"] is True
    charges = (await (await rider.get("/api/v1/passenger/charges")).json())["charges"]
    assert [(c["purpose"], c["status"]) for c in charges] == [("top_up", "succeeded")]
    receipts = (await (await rider.get("/api/v1/passenger/receipts")).json())["receipts"]
    assert sorted(r["kind"] for r in receipts) == ["pass", "top_up"]


async def test_a_pass_the_wallet_cannot_pay_is_refused(client: Client) -> None:
    rider = await register(client)
    response = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
    assert response.status == 409
    assert (await response.json())["type"].endswith(":insufficient-funds")


class MovableClock:
    """The app's clock, moved on by the test."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


async def test_a_pass_bought_again_is_the_same_pass_and_next_month_a_new_one(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    """Buying a pass twice answered 500 (the sale's posting again with another time) and a
    renewal failed (the pass id had no period): a pass is its account, product and first
    service day."""
    clock = MovableClock(datetime.now(UTC).replace(hour=1, minute=0))  # 08:00 in Hanoi
    config = make_config(tmp_path, db_url, localstripe_server, clock=clock)
    async with TestClient(TestServer(create_app(config))) as client:
        rider = await register(client, "postpaid_card")
        first = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
        assert first.status == 200, await first.text()
        bought = await first.json()
        clock.at += timedelta(minutes=1)
        again = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
        assert again.status == 200, await again.text()
        assert await again.json() == bought

        clock.at += timedelta(days=3)
        early = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
        assert early.status == 409
        problem = await early.json()
        assert problem["type"].endswith(":pass-overlaps")
        assert "already held until" in problem["detail"]

        clock.at = datetime.fromisoformat(bought["valid_until"])
        await rider.sign_in_again()  # a month later: the session has expired
        renewed = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
        assert renewed.status == 200, await renewed.text()
        next_month = await renewed.json()
        assert next_month["pass_id"] != bought["pass_id"]
        assert next_month["valid_from"] == bought["valid_until"]

        account = await (await rider.get("/api/v1/passenger/account")).json()
        price = bought["price"]["amount"]
        assert account["owed"] == {"amount": 2 * price, "currency": "VND"}  # charged twice


async def test_postpaid_accounts_cannot_top_up(client: Client) -> None:
    rider = await register(client, "postpaid_card")
    await rider.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
    response = await rider.post("/api/v1/passenger/top-ups", {"amount": 1000, "request_id": "x"})
    assert response.status == 409
    assert (await response.json())["type"].endswith(":not-prepaid")


async def test_the_credential_is_issued_on_fetch_and_a_second_fetch_denies_the_first(
    client: Client, api_config: ApiConfig
) -> None:
    rider = await register(client)
    first = await rider.post("/api/v1/passenger/credential")
    assert first.status == 200
    assert first.headers["Cache-Control"] == "no-store"
    first_doc = await first.json()
    assert first_doc["replaced"] == []
    second_doc = await (await rider.post("/api/v1/passenger/credential")).json()
    assert second_doc["replaced"] == [first_doc["credential_id"]]

    uows = client.app[UOWS]
    deny = await deny_list_snapshot(uows)
    assert not accepted(api_config, PhoneCredential.from_json(first_doc), deny)
    assert accepted(api_config, PhoneCredential.from_json(second_doc), deny)


async def test_lost_phone_denies_the_old_credential_and_answers_the_new_one(
    client: Client, api_config: ApiConfig
) -> None:
    rider = await register(client)
    nothing = await rider.post("/api/v1/passenger/lost-phone")
    assert nothing.status == 409
    held = await (await rider.post("/api/v1/passenger/credential")).json()
    lost = await rider.post("/api/v1/passenger/lost-phone")
    assert lost.status == 200
    answer = await lost.json()
    assert answer["revoked_credential_id"] == held["credential_id"]
    uows = client.app[UOWS]
    deny = await deny_list_snapshot(uows)
    assert not accepted(api_config, PhoneCredential.from_json(held), deny)
    assert accepted(api_config, PhoneCredential.from_json(answer["credential"]), deny)


async def test_trips_show_fares_and_only_the_passengers_own(client: Client) -> None:
    rider, other = await register(client), await register(client)
    uows = client.app[UOWS]
    feed = load_feed(HANOI_FEED)
    await ride_the_metro(uows, feed, rider.account_id, date(2026, 11, 24))
    mine = (await (await rider.get("/api/v1/passenger/trips")).json())["trips"]
    assert [t["fare"]["amount"] for t in mine] == [12_000, 15_000]
    assert mine[0]["from_stop_id"] == "m2a_12"
    assert mine[1]["from_stop_name"] == "Cát Linh"  # names from the fare feed
    assert mine[1]["route_name"] == "2A"
    theirs = (await (await other.get("/api/v1/passenger/trips")).json())["trips"]
    assert theirs == []


async def test_passenger_routes_need_a_live_passenger_token(client: Client) -> None:
    rider = await register(client)
    paths = ["/api/v1/passenger/account", "/api/v1/passenger/trips"]
    for path in paths:
        missing = await client.get(path)
        assert missing.status == 401
        assert missing.content_type == PROBLEM_JSON
    signed_out = await client.delete("/api/v1/sessions/current", headers=rider.auth)
    assert signed_out.status == 200
    for path in paths:
        assert (await rider.get(path)).status == 401
    refused = await rider.post("/api/v1/passenger/credential")
    assert refused.status == 401


async def test_other_roles_cannot_use_passenger_routes(client: Client) -> None:
    uows = client.app[UOWS]
    await create_user(uows, "ops-user", PASSWORD, UserRole.OPERATOR, cost=ScryptCost(n=2**8))
    session = await client.post(
        "/api/v1/sessions", json={"username": "ops-user", "password": PASSWORD}
    )
    auth = {"Authorization": f"Bearer {(await session.json())['token']}"}
    response = await client.get("/api/v1/passenger/account", headers=auth)
    assert response.status == 403
    assert response.content_type == PROBLEM_JSON
    assert (await client.post("/api/v1/passenger/credential", headers=auth)).status == 403


async def test_the_openapi_document_lists_the_passenger_routes(client: Client) -> None:
    document = await (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert "post" in paths["/api/v1/passengers"]
    for path in ("account", "trips", "charges", "receipts"):
        operation = paths[f"/api/v1/passenger/{path}"]["get"]
        assert operation["security"] == [{"bearerToken": []}]
        assert {"401", "403", "429"} <= set(operation["responses"])
    assert "post" in paths["/api/v1/passenger/credential"]
