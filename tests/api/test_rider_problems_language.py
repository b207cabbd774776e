"""The problems riders read come in their language: Vietnamese unless `Accept-Language` asks
for English; device and staff routes answer in English whatever is asked."""

from __future__ import annotations

import secrets

from tests.helpers.api import Client
from tests.helpers.passengers import register


async def test_a_wrong_password_is_told_in_vietnamese_unless_english_is_asked(
    client: Client,
) -> None:
    # A name of its own: failed sign-ins are slowed per name and client, in the shared Redis.
    body = {"username": f"nobody-{secrets.token_hex(4)}", "password": "not the password"}
    refused = await client.post("/api/v1/sessions", json=body)
    assert refused.status == 401
    assert refused.headers["Content-Language"] == "vi"
    problem = await refused.json()
    assert problem["title"] == "Chưa đăng nhập"
    assert problem["detail"] == "sai số điện thoại, e-mail hoặc mật khẩu"
    english = await client.post("/api/v1/sessions", json=body, headers={"Accept-Language": "en"})
    problem = await english.json()
    assert (problem["title"], problem["detail"]) == ("Unauthorized", "wrong username or password")


async def test_a_detail_made_for_the_occasion_keeps_its_english_after_the_vietnamese(
    client: Client,
) -> None:
    short = await client.post(
        "/api/v1/passengers", json={"username": "someone-new", "password": "short"}
    )
    assert short.status == 422
    detail = (await short.json())["detail"]
    assert detail.startswith("Dữ liệu gửi lên không hợp lệ (")
    assert "password" in detail


async def test_a_passenger_route_answers_in_the_language_asked(client: Client) -> None:
    rider = await register(client)
    headers = {**rider.auth, "Accept-Language": "fr, vi;q=0.5"}
    unknown = await client.get("/api/v1/passenger/credentials/12", headers=headers)
    assert unknown.status == 404
    assert (await unknown.json())["title"] == "Không tìm thấy"
    headers["Accept-Language"] = "en-GB"
    unknown = await client.get("/api/v1/passenger/credentials/12", headers=headers)
    assert (await unknown.json())["title"] == "Not Found"


async def test_staff_and_device_routes_answer_in_english(client: Client) -> None:
    refused = await client.get(
        "/api/v1/finance/settlements/2026-11-24", headers={"Accept-Language": "vi"}
    )
    assert refused.status == 401
    assert "Content-Language" not in refused.headers
    assert (await refused.json())["title"] == "Unauthorized"
