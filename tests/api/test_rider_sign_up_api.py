"""Signing up with a phone number or e-mail address and a Vietnamese name, and resetting a
password by a code from the outbox, over HTTP (the real app; SQLite and PostgreSQL)."""

from __future__ import annotations

from faregate.api.context import UOWS, ApiConfig
from faregate.outbox_runtime import open_outbox
from tests.helpers.api import Client

PASSWORD = "a long enough password"
NEW_PASSWORD = "another long password"
EN = {"Accept-Language": "en"}


async def test_sign_up_with_a_phone_and_a_vietnamese_name(client: Client) -> None:
    body = {"username": "0912 345 678", "password": PASSWORD, "display_name": "Nguyễn Văn A"}
    registered = await client.post("/api/v1/passengers", json=body)
    assert registered.status == 200, await registered.text()
    document = await registered.json()
    assert document["username"] == "+84912345678"
    assert document["display_name"] == "Nguyễn Văn A"
    session = await client.post(
        "/api/v1/sessions", json={"username": "+84 912 345 678", "password": PASSWORD}
    )
    token = (await session.json())["token"]
    account = await client.get(
        "/api/v1/passenger/account", headers={"Authorization": f"Bearer {token}"}
    )
    assert (await account.json())["display_name"] == "Nguyễn Văn A"
    again = await client.post("/api/v1/passengers", json={**body, "username": "+84912345678"})
    assert again.status == 409


async def test_a_number_that_is_none_is_one_line_in_the_riders_language(client: Client) -> None:
    body = {"username": "0123", "password": PASSWORD, "display_name": "An"}
    refused = await client.post("/api/v1/passengers", json=body)
    assert refused.status == 422
    assert (await refused.json())["detail"].startswith("Dữ liệu gửi lên không hợp lệ (")
    refused = await client.post("/api/v1/passengers", json=body, headers=EN)
    assert "is not a phone number" in (await refused.json())["detail"]
    body = {"username": "an@example.vn", "password": PASSWORD, "display_name": "a\x00b"}
    refused = await client.post("/api/v1/passengers", json=body, headers=EN)
    assert refused.status == 422
    assert "display name" in (await refused.json())["detail"]


async def hashed_at(client: Client, username: str) -> int:
    """The scrypt work factor (n) of the user's stored password hash."""
    async with client.server.app[UOWS]() as uow:
        stored = await uow.users.get(username)
    assert stored is not None
    return int(stored.password_hash.split("$")[1])


async def test_reset_a_password_with_the_code_from_the_outbox(
    client: Client, api_config: ApiConfig
) -> None:
    body = {"username": "an@example.vn", "password": PASSWORD, "display_name": "An"}
    account_id = (await (await client.post("/api/v1/passengers", json=body)).json())["account_id"]
    # Both hashes at the server's configured cost (the tests' cheap one), not the default.
    configured = api_config.settings.password_cost.n
    assert await hashed_at(client, "an@example.vn") == configured
    asked = await client.post(
        "/api/v1/passengers/password-reset", json={"username": "AN@example.vn"}
    )
    assert (asked.status, await asked.json()) == (200, {"requested": True})
    nobody = await client.post(
        "/api/v1/passengers/password-reset", json={"username": "nobody@example.vn"}
    )
    assert (nobody.status, await nobody.json()) == (200, {"requested": True})  # the same answer
    [message] = await open_outbox(api_config.settings).messages(account_id)
    code = str(message.parameters["code"])
    confirm = "/api/v1/passengers/password-reset/confirm"
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = await client.post(
        confirm, json={"username": "an@example.vn", "code": wrong, "password": NEW_PASSWORD}
    )
    assert refused.status == 422
    problem = await refused.json()
    assert problem["type"] == "urn:faregate:problem:reset-code-refused"
    assert problem["detail"] == "mã sai, đã dùng hoặc đã hết hạn; hãy yêu cầu mã mới"
    done = await client.post(
        confirm, json={"username": "an@example.vn", "code": code, "password": NEW_PASSWORD}
    )
    assert (done.status, await done.json()) == (200, {"reset": True})
    assert await hashed_at(client, "an@example.vn") == configured
    signed_in = await client.post(
        "/api/v1/sessions", json={"username": "an@example.vn", "password": NEW_PASSWORD}
    )
    assert signed_in.status == 200
    unknown_field = await client.post(confirm, json={"username": "x", "code": "1", "pw": "y"})
    assert unknown_field.status == 422
