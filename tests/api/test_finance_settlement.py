"""The finance API over the real settlement run (SQLite and PostgreSQL, the session's
localstripe), off the request and with four eyes: one finance user prepares a day (202 at once,
the run to follow), a second approves it and the runner charges and reports; the same user
cannot do both, an operator neither; progress is visible while the runner charges; a run whose
gateway fails part-way shows failed, and a retry completes it charging nobody twice."""

from __future__ import annotations

import asyncio
import csv
import io
import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from faregate.api.app import create_app
from faregate.api.context import ENGINE, GATEWAY, PRICING_FEED, UOWS
from faregate.api.problems import PROBLEM_JSON
from gateways.localstripe_server import LocalStripe
from gateways.protocol import PaymentStatus
from tests.helpers.api import TEST_COST, Client, make_config
from tests.helpers.settlement_runs import FailingGateway, HeldGateway, postpaid_riders, runner
from tests.helpers.waiting import until
from tests.wallets import open_funded_wallets
from ticketing.audit import AuditAction, AuditQuery, TargetKind
from ticketing.db.payments_models import PaymentAttemptRow
from ticketing.payments.model import PaymentPurpose
from ticketing.services import settlement_runner
from ticketing.services.settlement_lock import settlement_lock
from ticketing.services.taps import ingest_and_price
from ticketing.services.users import create_user, sign_in
from ticketing.settlement.states import Job
from ticketing.taps import Tap, TapKind
from ticketing.users import UserRole

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
PASSWORD = "correct horse battery"
SETTLEMENTS = "/api/v1/finance/settlements"


async def token(client: Client, role: UserRole) -> str:
    username = f"{role.value}-{secrets.token_hex(4)}"
    uows = client.server.app[UOWS]
    await create_user(uows, username, PASSWORD, role, cost=TEST_COST)
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
            # nothing on record (200 empty, 404) or a day no settlement handles (422): never a 500
            assert read.status in (200, 404, 422), (path, await read.text())
    # a run's own resource: such a day is none (was an undocumented 422, found by the fuzz test)
    for day in ("0265-07-09", "9999-12-31"):
        for method, path in (("GET", ""), ("POST", "/approve")):
            read = await call(client, method, f"{SETTLEMENTS}/{day}{path}", fin)
            assert read.status == 404, await read.text()
            assert (await read.json())["type"].endswith(":no-such-day")


async def test_an_operator_cannot_start_a_settlement(client: Client) -> None:
    await city(client)
    ops = await token(client, UserRole.OPERATOR)
    answer = await call(client, "POST", SETTLEMENTS, ops, {"day": "2026-11-24"})
    assert answer.status == 403
    async with client.server.app[UOWS]() as uow:
        assert await uow.settlement.days() == []


@pytest.fixture
async def quiet(
    tmp_path: Path, db_url: str, localstripe_server: LocalStripe
) -> AsyncIterator[Client]:
    """The app without its own settlement runner: the test runs the work when it says."""
    config = make_config(tmp_path, db_url, localstripe_server, settlement_runner=False)
    async with TestClient(TestServer(create_app(config))) as test_client:
        yield test_client


async def run(client: Client, path: str, bearer: str) -> dict[str, Any]:
    answer = await call(client, "GET", path, bearer)
    assert answer.status == 200, await answer.text()
    document: dict[str, Any] = await answer.json()
    return document


async def attempts_of(client: Client, account: str) -> list[tuple[str, str]]:
    """The account's daily charge attempts: (charge key, status)."""
    async with client.server.app[UOWS]() as uow:
        rows = await uow.session.execute(
            select(PaymentAttemptRow.charge_key, PaymentAttemptRow.status).where(
                PaymentAttemptRow.account_id == account,
                PaymentAttemptRow.purpose == PaymentPurpose.DAILY_CHARGE.value,
            )
        )
        return sorted((str(key), str(status)) for key, status in rows)


async def test_prepare_answers_at_once_and_a_second_finance_user_approves(quiet: Client) -> None:
    app = quiet.server.app
    rode = await postpaid_riders(app, DAY, 2)
    fin, fin2 = await token(quiet, UserRole.FINANCE), await token(quiet, UserRole.FINANCE)
    ops = await token(quiet, UserRole.OPERATOR)
    day_path = f"{SETTLEMENTS}/{DAY}"

    answer = await call(quiet, "POST", SETTLEMENTS, fin, {"day": DAY.isoformat()})
    assert answer.status == 202, await answer.text()
    started = await answer.json()
    # answered before any work: closed, nothing priced or charged, the work waiting
    assert (started["state"], started["stage"], started["progress"]) == (
        "preparing", "closed", None,
    )  # fmt: skip
    assert started["prepared_by"].startswith("finance-")
    assert started["approved_by"] is None
    assert started["links"]["self"] == day_path
    assert await run(quiet, day_path, fin) == started
    listed = await run(quiet, SETTLEMENTS, fin)
    assert (listed["days"][0]["day"], listed["days"][0]["state"]) == (
        DAY.isoformat(), "waiting (prepare)",
    )  # fmt: skip

    assert await runner(app, app[GATEWAY]).run_waiting() == [(DAY, Job.PREPARE)]
    prepared = await run(quiet, day_path, fin)
    assert (prepared["state"], prepared["stage"]) == ("prepared", "priced")
    review = prepared["review"]
    assert review["charges"]["count"] == 2
    assert review["charges"]["total"] == sum(rode.values())
    assert prepared["links"]["approve"] == f"{day_path}/approve"
    listed = await run(quiet, SETTLEMENTS, fin)
    assert listed["days"][0]["state"] == "prepared"
    for account in rode:  # nothing charged by preparing
        assert await attempts_of(quiet, account) == []

    refused = await call(quiet, "POST", f"{day_path}/approve", fin)
    assert refused.status == 403
    assert (await refused.json())["type"].endswith("four-eyes")
    for path, body in ((f"{day_path}/approve", None), (SETTLEMENTS, {"day": DAY.isoformat()})):
        assert (await call(quiet, "POST", path, ops, body)).status == 403
    assert (await call(quiet, "GET", day_path, ops)).status == 403

    approved = await call(quiet, "POST", f"{day_path}/approve", fin2)
    assert approved.status == 202
    document = await approved.json()
    assert document["state"] == "settling"
    assert document["approved_by"] != document["prepared_by"]
    assert await runner(app, app[GATEWAY]).run_waiting() == [(DAY, Job.APPROVE)]
    settled = await run(quiet, day_path, fin)
    assert (settled["state"], settled["stage"], settled["error"]) == ("settled", "reported", None)
    assert settled["digest"]
    for account in rode:
        assert await attempts_of(quiet, account) == [(f"charge:{account}:{DAY}", "succeeded")]
    csv_answer = await call(quiet, "GET", settled["links"]["report"][:-11] + "statements.csv", fin)
    assert csv_answer.status == 200
    assert list(csv.DictReader(io.StringIO(await csv_answer.text())))

    # the operator's figure drilled down: its pools add up to its statement's revenue
    figures = await run(quiet, f"/api/v1/finance/figures?day={DAY}", fin)
    [metro] = [st for st in figures["figures"]["statements"] if st["operator"] == "HMC"]
    drilled = await run(quiet, f"{day_path}/operators/HMC", fin)
    assert drilled["name"] == "Hanoi Metro"
    assert drilled["apportioned"] == metro["revenue"] == sum(p["share"] for p in drilled["pools"])
    assert len(drilled["legs"]) == metro["rides"] == 4
    assert {c["account_id"] for c in drilled["charges"]} == set(rode)
    assert {c["status"] for c in drilled["charges"]} == {"succeeded"}
    one = await run(quiet, f"{day_path}/operators/HMC?limit=1", fin)
    assert (len(one["legs"]), one["pools_count"]) == (1, drilled["pools_count"])
    assert (await call(quiet, "GET", f"{day_path}/operators/HMC?limit=0", fin)).status == 422
    nobody = await run(quiet, f"{day_path}/operators/nobody", fin)
    assert (nobody["apportioned"], nobody["legs"], nobody["pools"]) == (0, [], [])
    unsettled = await call(quiet, "GET", f"{SETTLEMENTS}/2026-11-25/operators/HMC", fin)
    assert unsettled.status == 404
    assert (await call(quiet, "GET", f"{day_path}/operators/HMC", ops)).status == 403

    async with app[UOWS]() as uow:
        page = await uow.audit.page(AuditQuery(target_kind=TargetKind.SERVICE_DAY))
    steps = sorted((e.action, e.actor.name) for e in page.entries)
    assert steps == sorted([
        (AuditAction.SETTLEMENT_PREPARED, started["prepared_by"]),
        (AuditAction.SETTLEMENT_APPROVED, document["approved_by"]),
    ])  # fmt: skip


async def test_the_runs_progress_is_visible_while_it_charges(
    quiet: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settlement_runner, "PROGRESS_INTERVAL", 0.0)  # every count stored
    app = quiet.server.app
    await postpaid_riders(app, DAY, 3)
    fin, fin2 = await token(quiet, UserRole.FINANCE), await token(quiet, UserRole.FINANCE)
    day_path = f"{SETTLEMENTS}/{DAY}"
    await call(quiet, "POST", SETTLEMENTS, fin, {"day": DAY.isoformat()})
    await runner(app, app[GATEWAY]).run_waiting()
    await call(quiet, "POST", f"{day_path}/approve", fin2)
    held = HeldGateway(app[GATEWAY], hold_at=3)
    working = asyncio.create_task(runner(app, held).run_waiting())
    await asyncio.wait_for(held.holding.wait(), timeout=60)
    during = await run(quiet, day_path, fin)
    assert during["state"] == "settling"
    assert during["stage"] == "priced"
    assert during["progress"] == {"stage": "charged", "done": 2, "total": 3}
    held.release.set()
    await working
    after = await run(quiet, day_path, fin)
    assert (after["state"], after["progress"]) == ("settled", None)


async def test_a_run_whose_gateway_fails_part_way_shows_failed_and_a_retry_charges_once(
    quiet: Client,
) -> None:
    app = quiet.server.app
    rode = await postpaid_riders(app, DAY, 3)
    fin, fin2 = await token(quiet, UserRole.FINANCE), await token(quiet, UserRole.FINANCE)
    day_path = f"{SETTLEMENTS}/{DAY}"
    await call(quiet, "POST", SETTLEMENTS, fin, {"day": DAY.isoformat()})
    await runner(app, app[GATEWAY]).run_waiting()
    await call(quiet, "POST", f"{day_path}/approve", fin2)
    failing = FailingGateway(app[GATEWAY], fail_at=2)
    await runner(app, failing).run_waiting()
    failed = await run(quiet, day_path, fin)
    assert (failed["state"], failed["stage"]) == ("failed", "priced")
    assert failed["error"].startswith("charged stage failed: ")
    assert failed["progress"] is None
    charged = [a for a in rode if ("succeeded" in {s for _k, s in await attempts_of(quiet, a)})]
    assert len(charged) == 1  # one charge at a time: the first made, the failure stopped the rest

    # the preparer cannot retry the approval either; the approver (or a third user) can
    assert (await call(quiet, "POST", f"{day_path}/approve", fin)).status == 403
    again = await call(quiet, "POST", f"{day_path}/approve", fin2)
    assert again.status == 202
    assert (await again.json())["state"] == "settling"
    await runner(app, failing).run_waiting()
    settled = await run(quiet, day_path, fin)
    assert settled["state"] == "settled"
    for account in rode:
        key = f"charge:{account}:{DAY}"
        assert await attempts_of(quiet, account) == [(key, "succeeded")]
        found = await app[GATEWAY].find_charge_payments(key)
        assert [p.status for p in found] == [PaymentStatus.SUCCEEDED]  # charged once


async def test_a_runner_elsewhere_holding_the_day_leaves_the_work_waiting(quiet: Client) -> None:
    app = quiet.server.app
    await city(quiet)
    fin = await token(quiet, UserRole.FINANCE)
    async with settlement_lock(app[ENGINE], DAY):  # as another process would hold it
        answer = await call(quiet, "POST", SETTLEMENTS, fin, {"day": DAY.isoformat()})
        assert answer.status == 202
        assert await runner(app, app[GATEWAY]).run_waiting() == []
        assert (await run(quiet, f"{SETTLEMENTS}/{DAY}", fin))["state"] == "preparing"
    # asking again while it waits changes nothing (one audit line, one job)
    again = await call(quiet, "POST", SETTLEMENTS, fin, {"day": DAY.isoformat()})
    assert (again.status, (await again.json())["state"]) == (202, "preparing")
    assert await runner(app, app[GATEWAY]).run_waiting() == [(DAY, Job.PREPARE)]
    assert (await run(quiet, f"{SETTLEMENTS}/{DAY}", fin))["state"] == "prepared"


async def test_the_servers_own_runner_settles_a_day_prepared_and_approved(client: Client) -> None:
    await city(client)
    fin, fin2 = await token(client, UserRole.FINANCE), await token(client, UserRole.FINANCE)
    day_path = f"{SETTLEMENTS}/{DAY}"
    answer = await call(client, "POST", SETTLEMENTS, fin, {"day": DAY.isoformat()})
    assert answer.status == 202

    async def state(wanted: str) -> bool:
        return (await run(client, day_path, fin))["state"] == wanted

    await until(lambda: state("prepared"), "the day is prepared")
    assert (await call(client, "POST", f"{day_path}/approve", fin2)).status == 202
    await until(lambda: state("settled"), "the day is settled")
    listed = await (await call(client, "GET", SETTLEMENTS, fin)).json()
    assert (listed["days"][0]["day"], listed["days"][0]["state"]) == ("2026-11-24", "settled")


async def test_bad_days_and_approving_what_is_not_prepared_are_problems(client: Client) -> None:
    fin = await token(client, UserRole.FINANCE)
    assert (await call(client, "GET", f"{SETTLEMENTS}/2026-13-01", fin)).status == 404
    assert (await call(client, "POST", f"{SETTLEMENTS}/yesterday/approve", fin)).status == 404
    answer = await call(client, "POST", f"{SETTLEMENTS}/{DAY}/approve", fin)
    assert answer.status == 409
    assert (await answer.json())["type"].endswith("not-prepared")
    unknown = await run(client, f"{SETTLEMENTS}/{DAY}", fin)
    assert (unknown["state"], unknown["stage"]) == ("closed", None)
