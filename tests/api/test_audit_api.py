"""`GET /api/v1/finance/audit` over the real app (SQLite and PostgreSQL): staff signing in and
out through the API are there, with the user added by an administrator, newest first, filtered
and paged; only finance may read it; bad filters are 422 problems."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from faregate.api.context import UOWS
from faregate.api.problems import PROBLEM_JSON
from tests.helpers.api import TEST_COST, Client
from tests.wallets import top_up
from ticketing.audit import Actor
from ticketing.riders import PaymentMode, RiderAccount
from ticketing.services.users import create_user
from ticketing.users import UserRole

PASSWORD = "correct horse battery"
AUDIT = "/api/v1/finance/audit"


async def staff(client: Client, role: UserRole) -> tuple[str, str]:
    """A staff user added by an administrator and signed in through the API: (name, token)."""
    username = f"{role.value}-{secrets.token_hex(4)}"
    await create_user(
        client.server.app[UOWS], username, PASSWORD, role,
        cost=TEST_COST, by=Actor.administrator("root"),
    )  # fmt: skip
    signed_in = await client.post(
        "/api/v1/sessions", json={"username": username, "password": PASSWORD}
    )
    assert signed_in.status == 200
    return username, str((await signed_in.json())["token"])


async def read(client: Client, token: str, **query: Any) -> Any:
    return await client.get(AUDIT, params=query, headers={"Authorization": f"Bearer {token}"})


async def test_finance_reads_staff_actions_newest_first(client: Client) -> None:
    fin, fin_token = await staff(client, UserRole.FINANCE)
    ops, ops_token = await staff(client, UserRole.OPERATOR)
    out = await client.delete(
        "/api/v1/sessions/current", headers={"Authorization": f"Bearer {ops_token}"}
    )
    assert (await out.json()) == {"revoked": True}

    answer = await read(client, fin_token)
    assert answer.status == 200
    page = await answer.json()
    lines = [(e["actor"]["name"], e["action"], e["target"]["id"]) for e in page["entries"]]
    assert lines == [
        (ops, "sign-out", ops),
        (ops, "sign-in", ops),
        ("root", "user-added", ops),
        (fin, "sign-in", fin),
        ("root", "user-added", fin),
    ]
    assert page["next"] is None
    newest = page["entries"][0]
    assert newest["actor"] == {"name": ops, "role": "operator"}
    assert newest["target"]["kind"] == "user"
    assert isinstance(newest["id"], str)
    assert newest["at"].endswith("Z")
    assert page["entries"][2]["after"] == {"role": "operator"}
    assert page["entries"][2]["actor"]["role"] == "administrator"


async def test_filters_and_pages(client: Client) -> None:
    fin, fin_token = await staff(client, UserRole.FINANCE)
    ops, _ = await staff(client, UserRole.OPERATOR)

    async def actions(**query: Any) -> list[tuple[str, str]]:
        answer = await read(client, fin_token, **query)
        assert answer.status == 200, await answer.text()
        return [(e["actor"]["name"], e["action"]) for e in (await answer.json())["entries"]]

    assert await actions(action="sign-in") == [(ops, "sign-in"), (fin, "sign-in")]
    assert await actions(actor=ops) == [(ops, "sign-in")]
    assert await actions(target_kind="user", target_id=fin) == [
        (fin, "sign-in"), ("root", "user-added"),
    ]  # fmt: skip
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert await actions(since=later) == []
    assert len(await actions(until=later)) == 4

    first = await (await read(client, fin_token, limit=3)).json()
    assert len(first["entries"]) == 3
    rest = await (await read(client, fin_token, limit=3, cursor=first["next"])).json()
    assert [e["id"] for e in rest["entries"]] == [
        e["id"] for e in (await (await read(client, fin_token)).json())["entries"][3:]
    ]
    assert rest["next"] is None


async def test_only_finance_reads_the_log(client: Client) -> None:
    _, ops_token = await staff(client, UserRole.OPERATOR)
    assert (await read(client, ops_token)).status == 403
    anonymous = await client.get(AUDIT)
    assert anonymous.status == 401
    assert anonymous.content_type == PROBLEM_JSON


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ({"action": "deleted-everything"}, "action"),
        ({"target_kind": "spaceship"}, "target_kind"),
        ({"since": "2026-12-01T00:00:00"}, "since"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"colour": "red"}, "colour"),
        ({"target_id": "alice"}, "target kind"),
        ({"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"}, "before until"),
        ({"cursor": "page-two"}, "cursor"),
    ],
)
async def test_bad_filters_are_422_problems(
    client: Client, query: dict[str, str], detail: str
) -> None:
    _, fin_token = await staff(client, UserRole.FINANCE)
    answer = await read(client, fin_token, **query)
    assert answer.status == 422
    assert answer.content_type == PROBLEM_JSON
    assert detail in (await answer.json())["detail"]


async def test_a_settlement_prepared_through_the_api_is_the_finance_users(client: Client) -> None:
    async with client.server.app[UOWS]() as uow:  # the day's only activity: a top-up
        await uow.riders.open_account(
            RiderAccount("alice", "regular", PaymentMode.PREPAID_WALLET, "VND")
        )
        await top_up(uow, "alice", 50_000, at=datetime(2026, 11, 24, 5, tzinfo=UTC))
        await uow.commit()
    fin, fin_token = await staff(client, UserRole.FINANCE)
    started = await client.post(
        "/api/v1/finance/settlements",
        json={"day": "2026-11-24"},
        headers={"Authorization": f"Bearer {fin_token}"},
    )
    assert started.status == 202, await started.text()
    page = await (await read(client, fin_token, action="settlement-prepared")).json()
    [line] = page["entries"]
    assert line["actor"] == {"name": fin, "role": "finance"}
    assert line["target"] == {"kind": "service-day", "id": "2026-11-24"}
