"""The finance API over the real settlement run (SQLite and PostgreSQL, the session's
localstripe): a finance user settles a closed day and downloads its statements; a day before
its cut-off and a day already being settled are refused with 409; operators cannot start one."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer

from faregate.api.app import create_app
from faregate.api.context import ENGINE, PRICING_FEED, UOWS
from faregate.api.problems import PROBLEM_JSON
from faregate.gateway_runtime import StripeConfig
from gateways.localstripe_server import LocalStripe
from tests.helpers.api import Client, free_port, make_config
from tests.wallets import open_funded_wallets
from ticketing.services.settlement_lock import settlement_lock
from ticketing.services.taps import ingest_and_price
from ticketing.services.users import ScryptCost, create_user, sign_in
from ticketing.settlement.states import ExceptionKind
from ticketing.taps import Tap, TapKind
from ticketing.users import UserRole

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
PASSWORD = "correct horse battery"
SETTLEMENTS = "/api/v1/finance/settlements"


async def token(client: Client, role: UserRole) -> str:
    username = f"{role.value}-{secrets.token_hex(4)}"
    uows = client.server.app[UOWS]
    await create_user(uows, username, PASSWORD, role, cost=ScryptCost(n=2**8))
    return (await sign_in(uows, username, PASSWORD)).token


async def call(client: Client, method: str, path: str, bearer: str, body: Any = None) -> Any:
    return await client.request(
        method, path, json=body, headers={"Authorization": f"Bearer {bearer}"}
    )


def ride(account: str, hour: int) -> list[Tap]:
    def tap(seq: int, minute: int, stop: str, kind: TapKind) -> Tap:
        when = datetime(DAY.year, DAY.month, DAY.day, hour, minute, tzinfo=HANOI)
        return Tap(f"gate-{account}", seq, 42, account, when, "m2a", stop, kind)

    return [tap(1, 0, "m2a_01", TapKind.ENTRY), tap(2, 25, "m2a_12", TapKind.EXIT)]


async def city(client: Client) -> None:
    """Two prepaid riders with money in their wallets, one ride each on DAY."""
    uows, feed = client.server.app[UOWS], client.server.app[PRICING_FEED]
    async with uows() as uow:
        await open_funded_wallets(uow, ["alice", "carol"])
        await uow.commit()
    await ingest_and_price(uows, feed, [*ride("alice", 7), *ride("carol", 8)])


async def test_finance_settles_a_closed_day_and_downloads_its_statements(client: Client) -> None:
    await city(client)
    fin = await token(client, UserRole.FINANCE)
    listed = await (await call(client, "GET", SETTLEMENTS, fin)).json()
    assert listed["days"][0] == {
        "day": "2026-11-24", "state": "open", "digest": None, "error": None,
        "adjustments_waiting": 0,
    }  # fmt: skip
    assert [d["day"] for d in listed["days"][:2]] == ["2026-11-24", "2026-11-25"]  # rideless
    answer = await call(client, "POST", SETTLEMENTS, fin, {"day": "2026-11-24"})
    assert answer.status == 200, await answer.text()
    started = await answer.json()
    summary = started["summary"]
    assert started["already_settled"] is False
    assert (summary["taps"], summary["account_days"]) == (4, 2)
    assert sum(summary["apportioned"].values()) > 0
    assert summary["report"] == f"/api/v1/finance/statements?day={DAY}&name=report.html"
    digest = summary["digest"]

    listed = await (await call(client, "GET", SETTLEMENTS, fin)).json()
    assert [(d["day"], d["state"], d["digest"]) for d in listed["days"][:1]] == [
        ("2026-11-24", "settled", digest)
    ]
    figures = await call(client, "GET", f"/api/v1/finance/figures?day={DAY}", fin)
    assert figures.status == 200
    document = await figures.json()
    assert document["digest"] == digest
    assert document["closed_by"].startswith("finance-")
    assert "statements" in document["figures"]

    csv_answer = await call(client, "GET", f"{summary['report'][:-11]}statements.csv", fin)
    assert csv_answer.status == 200
    assert csv_answer.content_type == "text/csv"
    assert csv_answer.charset == "utf-8"
    assert "attachment" in csv_answer.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await csv_answer.text())))
    assert {r["operator"] for r in rows} == set(summary["apportioned"])
    json_answer = await call(
        client, "GET", f"/api/v1/finance/statements?day={DAY}&name=settlement.json", fin
    )
    assert json_answer.content_type == "application/json"
    assert json.loads(await json_answer.read())["digest"] == digest
    html = await call(client, "GET", summary["report"], fin)
    assert html.content_type == "text/html"
    assert "<svg" in await html.text()
    exceptions = await call(client, "GET", f"/api/v1/finance/exceptions?day={DAY}", fin)
    assert exceptions.status == 200
    assert {e["kind"] for e in (await exceptions.json())["exceptions"]} <= set(ExceptionKind)

    again = await (await call(client, "POST", SETTLEMENTS, fin, {"day": "2026-11-24"})).json()
    assert again["already_settled"] is True
    assert again["summary"]["digest"] == digest


async def test_statements_of_an_unsettled_day_or_an_unknown_file_are_404(client: Client) -> None:
    fin = await token(client, UserRole.FINANCE)
    for path in (
        f"/api/v1/finance/statements?day={DAY}&name=statements.csv",
        f"/api/v1/finance/statements?day={DAY}&name=passwords.txt",
        f"/api/v1/finance/figures?day={DAY}",
    ):
        answer = await call(client, "GET", path, fin)
        assert answer.status == 404, path
        assert answer.content_type == PROBLEM_JSON


async def test_a_day_before_its_cut_off_is_refused_with_409(client: Client) -> None:
    await city(client)
    fin = await token(client, UserRole.FINANCE)
    today = datetime.now(HANOI).date()
    for day in (today, today + timedelta(days=3)):
        answer = await call(client, "POST", SETTLEMENTS, fin, {"day": day.isoformat()})
        assert answer.status == 409
        problem = await answer.json()
        assert problem["type"].endswith("day-not-closed")
        assert "cut-off" in problem["detail"]
    for day in ("1969-12-31", "1000-01-01", (DAY - timedelta(days=1)).isoformat()):
        answer = await call(client, "POST", SETTLEMENTS, fin, {"day": day})
        assert answer.status == 422
        problem = await answer.json()
        assert problem["type"].endswith("outside-calendar")
        assert "not in the settlement calendar" in problem["detail"]
    async with client.server.app[UOWS]() as uow:
        assert await uow.settlement.days() == []


async def test_a_day_beyond_the_years_settlement_handles_is_422(client: Client) -> None:
    """0001-01-01 and 9999-12-31 were 500s (OverflowError working out their cut-off)."""
    fin = await token(client, UserRole.FINANCE)
    for day in ("0001-01-01", "9999-12-31"):
        answer = await call(client, "POST", SETTLEMENTS, fin, {"day": day})
        assert answer.status == 422, await answer.text()
        # before any activity: outside the calendar; after 8999: no day settlement handles
        kind = (await answer.json())["type"].rpartition(":")[2]
        assert kind in ("outside-calendar", "validation")
        for path in (
            f"/api/v1/finance/figures?day={day}",
            f"/api/v1/finance/exceptions?day={day}",
            f"/api/v1/finance/statements?day={day}&name=report.html",
        ):
            read = await call(client, "GET", path, fin)
            assert read.status in (200, 404), (path, await read.text())


async def test_a_settlement_already_running_is_refused_with_409(client: Client) -> None:
    await city(client)
    fin = await token(client, UserRole.FINANCE)
    # as another process (`faregate settle`, a second server) would hold it
    async with settlement_lock(client.server.app[ENGINE], DAY):
        answer = await call(client, "POST", SETTLEMENTS, fin, {"day": "2026-11-24"})
        assert answer.status == 409
        assert (await answer.json())["type"].endswith("settlement-in-progress")
    # two finance users at once on this server: one runs, the other is refused or, if the
    # first had already finished, gets its stored figures
    answers = await asyncio.gather(
        *(call(client, "POST", SETTLEMENTS, fin, {"day": "2026-11-24"}) for _ in range(2))
    )
    statuses = sorted(a.status for a in answers)
    assert statuses in ([200, 409], [200, 200]), statuses
    bodies = [await a.json() for a in answers if a.status == 200]
    assert [b["already_settled"] for b in bodies].count(False) == 1


async def test_an_operator_cannot_start_a_settlement(client: Client) -> None:
    await city(client)
    ops = await token(client, UserRole.OPERATOR)
    answer = await call(client, "POST", SETTLEMENTS, ops, {"day": "2026-11-24"})
    assert answer.status == 403
    async with client.server.app[UOWS]() as uow:
        assert await uow.settlement.days() == []


async def test_a_gateway_down_mid_run_is_502_and_the_stages_done_are_kept(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> None:
    down = StripeConfig(
        api_key="sk_test_down", api_base=f"http://127.0.0.1:{free_port()}", webhook_secret="x"
    )
    config = replace(make_config(tmp_path, db_url, localstripe_server), gateway=down)
    async with TestClient(TestServer(create_app(config))) as client:
        await city(client)
        fin = await token(client, UserRole.FINANCE)
        answer = await call(client, "POST", SETTLEMENTS, fin, {"day": "2026-11-24"})
        assert answer.status == 502
        assert "resumes" in (await answer.json())["detail"]
        listed = await (await call(client, "GET", SETTLEMENTS, fin)).json()
        failed = listed["days"][0]
        assert failed["state"] == "failed (priced)"  # the stages done are kept
        assert failed["error"].startswith("charged stage failed: ")
