"""The passenger API over HTTP (the real app, SQLite and PostgreSQL, the session's localstripe):
register, sign in and out, card, top-up, pass, the credential on one phone (a sign-in
elsewhere leaves it alone; moving it is explicit, limited, recorded and told to the old
phone), trips, charges, receipts, lost phone; a passenger sees only their own account."""

from __future__ import annotations

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
from tests.helpers.passengers import PASSWORD, MovableClock, Passenger, register, sign_in
from tests.helpers.payments import ride_the_metro
from ticketing.audit import AuditAction, AuditQuery, TargetKind
from ticketing.fares.feed import load_feed
from ticketing.services.riders import deny_list_snapshot
from ticketing.services.users import ScryptCost, create_user
from ticketing.users import UserRole

PROBLEM_JSON = "application/problem+json"


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
        "display_name": None,
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
    assert charges[0]["paid_for"] == {"kind": "top_up", "method": "card"}
    receipts = (await (await rider.get("/api/v1/passenger/receipts")).json())["receipts"]
    assert sorted(r["kind"] for r in receipts) == ["pass", "top_up"]
    # What each paid for in parts, for the page to name in the rider's language.
    assert sorted((r["description"], r["paid_for"]) for r in receipts) == [
        ("Pass m2a_month", {"kind": "pass", "product_id": "m2a_month"}),
        ("Wallet top-up", {"kind": "top_up", "method": "card"}),
    ]


async def test_a_pass_the_wallet_cannot_pay_is_refused(client: Client) -> None:
    rider = await register(client)
    response = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
    assert response.status == 409
    assert (await response.json())["type"].endswith(":insufficient-funds")


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
        cardless = await rider.post("/api/v1/passenger/passes", {"product_id": "m2a_month"})
        assert cardless.status == 409  # a postpaid rider pays a pass by card at purchase
        assert (await cardless.json())["type"].endswith(":no-card")
        await rider.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
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
        assert account["owed"] == {"amount": 0, "currency": "VND"}  # each paid at purchase
        paid = (await (await rider.get("/api/v1/passenger/charges")).json())["charges"]
        assert (
            sorted((c["purpose"], c["amount"]["amount"], c["covers"], c["paid_for"]) for c in paid)
            == [("pass_purchase", price, "Pass m2a_month",
                 {"kind": "pass", "product_id": "m2a_month"})] * 2
        )  # charged twice: once a month, never again on a retry


async def test_postpaid_accounts_cannot_top_up(client: Client) -> None:
    rider = await register(client, "postpaid_card")
    await rider.post("/api/v1/passenger/card", {"payment_method": "pm_card_visa"})
    response = await rider.post("/api/v1/passenger/top-ups", {"amount": 1000, "request_id": "x"})
    assert response.status == 409
    assert (await response.json())["type"].endswith(":not-prepaid")


async def other_phone(rider: Passenger) -> Passenger:
    """The same rider signed in on another device: a session of its own."""
    return Passenger(
        rider.client, rider.username, rider.account_id, await sign_in(rider.client, rider.username)
    )


def phone_of(doc: dict[str, Any]) -> PhoneCredential:
    """The credential document as qr reads it (its readable id copy is a JSON string)."""
    return PhoneCredential.from_json({**doc, "credential_id": int(doc["credential_id"])})


async def problem_type(response: Any) -> str:
    assert response.content_type == PROBLEM_JSON
    return str((await response.json())["type"]).rsplit(":", 1)[-1]


async def test_the_first_phone_takes_the_pass_and_a_sign_in_elsewhere_leaves_it_alone(
    client: Client, api_config: ApiConfig
) -> None:
    phone = await register(client)
    first = await phone.post("/api/v1/passenger/credential")
    assert first.status == 200
    assert first.headers["Cache-Control"] == "no-store"
    doc = await first.json()
    assert doc["replaced"] == []
    # Ids are strings of digits (a JavaScript Number would round them), the signed id's.
    assert isinstance(doc["credential_id"], str)
    assert int(doc["credential_id"]) == phone_of(doc).credential.credential_id

    laptop = await other_phone(phone)
    refused = await laptop.post("/api/v1/passenger/credential")
    assert refused.status == 409
    assert await problem_type(refused) == "pass-on-another-phone"
    again = await phone.post("/api/v1/passenger/credential")  # the same phone, storage wiped
    assert await problem_type(again) == "pass-on-another-phone"
    deny = await deny_list_snapshot(client.app[UOWS])
    assert accepted(api_config, phone_of(doc), deny)
    account = await (await laptop.get("/api/v1/passenger/account")).json()
    assert account["live_credentials"] == 1


async def test_moving_the_pass_is_explicit_limited_recorded_and_told_to_the_old_phone(
    client: Client, api_config: ApiConfig
) -> None:
    old = await register(client)
    held = await (await old.post("/api/v1/passenger/credential")).json()
    status = await old.get(f"/api/v1/passenger/credentials/{held['credential_id']}")
    assert status.status == 200
    live = await status.json()
    assert (live["credential_id"], live["status"], live["changed_at"]) == (
        held["credential_id"], "live", None,
    )  # fmt: skip
    assert live["moves_left_today"] == 3
    assert abs(datetime.fromisoformat(live["server_time"]) - datetime.now(UTC)) < timedelta(
        minutes=5
    )

    new = await other_phone(old)
    moved = await new.post("/api/v1/passenger/credential/move")
    assert moved.status == 200
    assert moved.headers["Cache-Control"] == "no-store"
    answer = await moved.json()
    assert answer["moved_from"] == [held["credential_id"]]
    assert answer["moves_left_today"] == 2
    assert answer["credential"]["replaced"] == [held["credential_id"]]
    deny = await deny_list_snapshot(client.app[UOWS])
    assert not accepted(api_config, phone_of(held), deny)
    assert accepted(api_config, phone_of(answer["credential"]), deny)

    # The old phone, online again, asks about its pass and is told.
    told = await (await old.get(f"/api/v1/passenger/credentials/{held['credential_id']}")).json()
    assert told["status"] == "moved"
    assert told["changed_at"] is not None
    assert told["moves_left_today"] == 2

    # Recorded, as the passenger's act on the account.
    async with client.app[UOWS]() as uow:
        page = await uow.audit.page(
            AuditQuery(target_kind=TargetKind.ACCOUNT, target_id=old.account_id)
        )
    assert [(e.action, e.actor.name) for e in page.entries] == [
        (AuditAction.PASS_MOVED, old.username)
    ]
    assert page.entries[0].after == {"credential_id": answer["credential"]["credential_id"]}

    # Three a day: the fourth is refused and changes nothing.
    for _ in range(2):
        assert (await old.post("/api/v1/passenger/credential/move")).status == 200
    last = await (await old.get("/api/v1/passenger/account")).json()
    refused = await new.post("/api/v1/passenger/credential/move")
    assert refused.status == 429
    assert await problem_type(refused) == "move-limit"
    assert "04:00" in (await refused.json())["detail"]
    assert await (await old.get("/api/v1/passenger/account")).json() == last


async def test_a_credential_status_is_only_the_passengers_own(client: Client) -> None:
    rider, other = await register(client), await register(client)
    theirs = await (await other.post("/api/v1/passenger/credential")).json()
    for credential_id in (theirs["credential_id"], "1", "abc", "1" * 21, str(2**64), "-1"):
        response = await rider.get(f"/api/v1/passenger/credentials/{credential_id}")
        assert response.status == 404, credential_id
        assert await problem_type(response) == "unknown-record"
    assert (
        await client.get(f"/api/v1/passenger/credentials/{theirs['credential_id']}")
    ).status == 401


async def test_a_lost_phone_loses_its_pass_and_every_session_at_once(
    client: Client, api_config: ApiConfig
) -> None:
    lost = await register(client)
    held = await (await lost.post("/api/v1/passenger/credential")).json()
    laptop = await other_phone(lost)
    reported = await laptop.post("/api/v1/passenger/lost-phone")
    assert reported.status == 200
    answer = await reported.json()
    assert answer["revoked"] == [held["credential_id"]]
    assert answer["sessions_ended"] == 2  # the lost phone's and the laptop's own
    # The lost phone's token is refused on its next request, whatever it asks.
    for path in (
        "/api/v1/passenger/account",
        f"/api/v1/passenger/credentials/{held['credential_id']}",
    ):
        assert (await lost.get(path)).status == 401
    assert (await lost.post("/api/v1/passenger/credential")).status == 401
    assert (
        await lost.post("/api/v1/passenger/top-ups", {"amount": 1000, "request_id": "x"})
    ).status == 401
    assert (await laptop.get("/api/v1/passenger/account")).status == 401
    deny = await deny_list_snapshot(client.app[UOWS])
    assert not accepted(api_config, phone_of(held), deny)

    # The rider signs in on the new phone, which takes a new pass (no move needed).
    new = await other_phone(lost)
    fresh = await new.post("/api/v1/passenger/credential")
    assert fresh.status == 200
    assert accepted(api_config, phone_of(await fresh.json()), deny)
    async with client.app[UOWS]() as uow:
        page = await uow.audit.page(AuditQuery(action=AuditAction.PHONE_LOST))
    assert [e.target.id for e in page.entries] == [lost.account_id]

    # Reporting again with no pass on any phone still ends the sessions.
    again = await (await new.post("/api/v1/passenger/lost-phone")).json()
    assert again["sessions_ended"] == 1


async def test_trips_show_fares_and_only_the_passengers_own(client: Client) -> None:
    rider, other = await register(client), await register(client)
    uows = client.app[UOWS]
    feed = load_feed(HANOI_FEED)
    await ride_the_metro(uows, feed, rider.account_id, date(2026, 11, 24))
    (day,) = (await (await rider.get("/api/v1/passenger/trips")).json())["days"]
    mine = day["trips"]
    assert [t["fare"]["amount"] for t in mine] == [15_000, 12_000]  # in the order ridden
    assert mine[1]["from_stop_id"] == "m2a_12"
    assert mine[0]["from_stop_name"] == "Cát Linh"  # names from the fare feed
    assert mine[0]["route_name"] == "2A"
    theirs = (await (await other.get("/api/v1/passenger/trips")).json())["days"]
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
    # What a charge or receipt paid for, in parts the page names in the rider's language.
    schemas = document["components"]["schemas"]
    assert set(schemas["PaysFor"]["enum"]) == {
        "top_up", "fares", "fares_adjustment", "parking", "pass"
    }
    for paid in ("ChargeDocument", "ReceiptDocument"):
        assert "paid_for" in schemas[paid]["required"]
