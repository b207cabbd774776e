"""A barrier offline for hours uploads its journal through the device API exactly once."""

from __future__ import annotations

import json
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from faregate.api.context import ApiConfig
from gateways.localstripe_server import LocalStripe
from parking.records import LotConfig
from parking.services import sessions_of, unable_to_collect_report
from parking.sessions import Lot, SessionState
from parking.tariff_files import load_tariff
from parking.unit_of_work import ParkingUnitOfWorkFactory
from qr.issue import issue_credential
from qr.vectors import fixed_key_material
from simulators.barrier import (
    UPLOAD_PATH,
    OfflineBarrier,
    UploadBatch,
    batch_to_wire,
    http_uploader,
)
from tests.helpers.api import Client, Device, make_config
from tests.helpers.devices import barrier as barrier_at
from tests.helpers.devices import device_id as new_device_id
from tests.helpers.devices import enrolled_client, gate
from tests.helpers.parking import lot_config, open_lot
from ticketing.devices import Direction
from ticketing.ledger import accounts
from ticketing.riders import CredentialRecord, PaymentMode, RiderAccount
from ticketing.services.riders import Registration, register_riders

T0 = datetime.fromisoformat("2026-11-30T07:00+07:00")
# The server's clock (and the devices'), stopped after the barrier's offline hours: the backend
# refuses records over 90 days old, so a real clock would fail T0 once the calendar moved on.
NOW = T0 + timedelta(hours=6)
IN_SERVICE = T0 - timedelta(days=1)  # when the test barriers were enrolled
CAR = load_tariff("hanoi-car")


@pytest.fixture
def api_config(tmp_path: Path, db_url: str, localstripe_server: LocalStripe) -> ApiConfig:
    return make_config(tmp_path, db_url, localstripe_server, clock=lambda: NOW)


async def test_an_offline_barrier_uploads_hours_of_journal_once_over_http(
    client: Client, engine: AsyncEngine, tmp_path: Path
) -> None:
    lot_id = f"mall-{secrets.token_hex(4)}"
    device_id = f"barrier-{secrets.token_hex(4)}"
    uows = ParkingUnitOfWorkFactory(engine)
    config = LotConfig(
        lot_id=lot_id, name="Vincom car park", operator="vincom-parking", capacity=100,
        reserved=0, passback="hard",
        hold_amount=0, currency="VND",
    )  # fmt: skip
    await open_lot(uows, config)
    await register_riders(
        uows,
        [
            Registration(
                RiderAccount(f"acc-{n}", "adult", PaymentMode.POSTPAID_CARD, "VND"),
                [
                    CredentialRecord(
                        700 + n,
                        f"acc-{n}",
                        T0 - timedelta(days=2),
                        T0 + timedelta(days=30),
                        T0 - timedelta(days=2),
                    )
                ],
            )
            for n in range(4)
        ],
        at=T0 - timedelta(days=2),
    )
    keys = fixed_key_material(rotated=False)
    barrier = OfflineBarrier(
        device_id, Lot(lot_id=lot_id, tariff=CAR), keys.keyset, keys.secure_module(),
        tmp_path / "barrier.sqlite", collector=None, clock=lambda: T0,
    )  # fmt: skip
    phones = [
        issue_credential(keys, credential_id=700 + n, product="WALLET", now=T0 - timedelta(days=1))
        for n in range(4)
    ]
    # Offline from 07:00 for five hours: four cars in, three out, fees priced at the barrier.
    for n, phone in enumerate(phones):
        at = T0 + timedelta(minutes=10 * n)
        assert barrier.present_entry(phone.token_at(at), at).opened
    for n, phone in enumerate(phones[:3]):
        at = T0 + timedelta(hours=2 + n, minutes=30)
        decision = barrier.present_exit(phone.token_at(at), at)
        assert decision.opened
        assert decision.failure is not None
        assert decision.failure.value == "barrier_offline"

    base = str(client.make_url(""))
    http = await enrolled_client(
        uows, base, device_id, barrier_at(lot_id), since=IN_SERVICE, clock=lambda: NOW
    )
    intruder = await enrolled_client(
        uows, base, new_device_id("intruder"), gate(), since=IN_SERVICE, clock=lambda: NOW
    )
    try:
        sent = await barrier.upload(http_uploader(http), batch_size=3)
        assert sent == 7
        assert await barrier.upload(http_uploader(http)) == 0  # nothing after the cursor
        # The same records again (a lost acknowledgement): applied before, applied once.
        records = barrier.journal.records(0)
        resent = replace(_batch(barrier), records=tuple(records))
        again = await http.request("POST", UPLOAD_PATH, batch_to_wire(resent))
        assert again.status_code == 200
        body = again.json()
        assert (body["received"], body["applied"], body["duplicate"], body["last_seq"]) == (
            7, 0, 7, 7,
        )  # fmt: skip
        assert body["occupancy"] == {"capacity": 100, "reserved": 0, "occupied": 1}
        # Another barrier's records are refused.
        foreign = await intruder.request("POST", UPLOAD_PATH, batch_to_wire(_batch(barrier)))
        assert foreign.status_code == 403
    finally:
        await http.aclose()
        await intruder.aclose()
        barrier.close()

    sessions = await sessions_of(uows, lot_id)
    assert [s.status for s in sessions].count(SessionState.OPEN) == 1
    closed = [s for s in sessions if s.status is SessionState.UNABLE_TO_COLLECT]
    assert [s.fee for s in closed] == [60_000, 60_000, 105_000]
    report = await unable_to_collect_report(uows, lot_id)
    assert report.by_reason == {"barrier_offline": 3}
    assert report.totals == {"VND": 225_000}
    async with uows() as uow:
        assert (await uow.ledger.balance(accounts.operator("vincom-parking"))).amount == 225_000
        assert (await uow.ledger.check_invariants()).ok


def _batch(barrier: OfflineBarrier) -> UploadBatch:
    return UploadBatch(
        device_id=barrier.device_id,
        lot_id=barrier.lot.lot_id,
        records=tuple(barrier.journal.records(0)),
    )


async def test_bad_barrier_uploads_are_problems_and_apply_nothing(
    client: Client, engine: AsyncEngine
) -> None:
    uows = ParkingUnitOfWorkFactory(engine)
    lot_id = f"lot-{secrets.token_hex(4)}"
    await open_lot(uows, lot_config(lot_id, capacity=5))
    device = await Device.enrol(
        client, f"barrier-{secrets.token_hex(4)}", barrier_at(lot_id), since=IN_SERVICE
    )

    def body(lot: str = lot_id, **record: object) -> bytes:
        base: dict[str, object] = {
            "device_id": device.id, "seq": 1, "lot_id": lot, "kind": "entry",
            "at": T0.isoformat(), "reason": "ok", "plate": "30A-1",
        }  # fmt: skip
        return json.dumps({"lot_id": lot, "records": [{**base, **record}]}).encode()

    cases = [
        (body(plate="30A\u0000"), 422, "$.records[0].plate"),
        (body(kind="teleport"), 422, "$.records[0].kind"),
        (body(at="2026-11-30T07:00:00"), 422, "$.records[0].at"),
        (body(lot="nowhere"), 403, "is bound to lot"),
        (body(kind="exit", session_seq=1), 409, "an exit needs its fee"),
        (body(device_id="someone-else"), 403, "only its own records"),
        # above the column's unsigned 64 bits: was a 500 (the bound only in the database)
        (body(credential_id=str(2**64)), 422, "`credential_id` must be at most 2**64 - 1"),
        # a credential id is a decimal string, never a JSON number (above 2**53 it is corrupted)
        (body(credential_id=9007199254740993), 422, "$.records[0].credential_id"),
        (body(credential_id="0x7"), 422, "$.records[0].credential_id"),
        # impossible records: never applied, never acknowledged
        (body(at="2099-01-01T00:00:00+07:00"), 422, "more than a day ahead"),
        (body(at="2000-01-01T12:00:00+07:00"), 422, "more than 90 days old"),
        (body(seq=2**63 - 1), 422, "leaps"),
        (body(at=(IN_SERVICE - timedelta(hours=1)).isoformat()), 422, "before the barrier was"),
        (
            body(kind="exit", fee=2**62, collected=0, failure="card_declined"),
            422,
            "above what any tariff",
        ),
    ]
    for payload, status, detail in cases:
        response = await device.post(UPLOAD_PATH, payload)
        assert response.status == status, await response.text()
        assert response.content_type == "application/problem+json"
        assert detail in (await response.json())["detail"]
        if detail in ("more than a day ahead", "more than 90 days old", "leaps",
                      "above what any tariff", "before the barrier was"):  # fmt: skip
            assert (await response.json())["type"] == "urn:faregate:problem:impossible-record"
    async with uows() as uow:
        assert await uow.parking.events_count(device.id) == 0


async def test_an_upload_that_does_not_fit_the_devices_binding_is_refused(
    client: Client, engine: AsyncEngine
) -> None:
    uows = ParkingUnitOfWorkFactory(engine)
    mine, other = (f"lot-{secrets.token_hex(4)}" for _ in range(2))
    for lot_id in (mine, other):
        await open_lot(uows, lot_config(lot_id, capacity=5))
    mine_only = await Device.enrol(
        client, new_device_id("barrier"), barrier_at(mine), since=IN_SERVICE
    )
    a_gate = await Device.enrol(client, new_device_id(), gate(), since=IN_SERVICE)

    def body(device: Device, lot: str) -> bytes:
        record = {
            "device_id": device.id, "seq": 1, "lot_id": lot, "kind": "entry",
            "at": T0.isoformat(), "reason": "ok", "plate": "30A-1",
        }  # fmt: skip
        return json.dumps({"lot_id": lot, "records": [record]}).encode()

    cases = [
        (mine_only, body(mine_only, other), "wrong-place", f"is bound to lot {mine}, not {other}"),
        (a_gate, body(a_gate, mine), "wrong-device-kind", "uploads to /device/v1/journal"),
    ]
    for device, payload, slug, detail in cases:
        response = await device.post(UPLOAD_PATH, payload)
        assert response.status == 403, await response.text()
        problem = await response.json()
        assert (problem["type"], detail in problem["detail"]) == (
            f"urn:faregate:problem:{slug}", True,
        ), problem  # fmt: skip
        async with uows() as uow:
            assert await uow.parking.events_count(device.id) == 0
    # What fits is applied: the barrier's entry at its own lot.
    assert (await mine_only.post(UPLOAD_PATH, body(mine_only, mine))).status == 200


async def test_a_barrier_bound_to_one_lane_uploads_only_that_lanes_passages(
    client: Client, engine: AsyncEngine
) -> None:
    uows = ParkingUnitOfWorkFactory(engine)
    lot_id = f"lot-{secrets.token_hex(4)}"
    await open_lot(uows, lot_config(lot_id, capacity=5))
    lanes = {
        lane: await Device.enrol(
            client, new_device_id("barrier"), barrier_at(lot_id, lane), since=IN_SERVICE
        )
        for lane in (Direction.ENTRY, Direction.EXIT, None)
    }

    def record(device: Device, seq: int, kind: str) -> dict[str, object]:
        passage: dict[str, object] = {
            "device_id": device.id, "seq": seq, "lot_id": lot_id, "kind": kind,
            "at": (T0 + timedelta(minutes=seq)).isoformat(), "reason": "ok", "plate": "30A-1",
        }  # fmt: skip
        if kind == "exit":  # a car whose entry this barrier did not see
            passage.update(fee=0, collected=0, lost_credential=True)
        return passage

    def body(device: Device, *kinds: str) -> bytes:
        records = [record(device, seq, kind) for seq, kind in enumerate(kinds, start=1)]
        return json.dumps({"lot_id": lot_id, "records": records}).encode()

    # A passage of the other direction refuses the whole upload, naming each misfit.
    refused = [
        (lanes[Direction.ENTRY], body(lanes[Direction.ENTRY], "entry", "exit", "refused", "exit"),
         "bound to the entry lane", "record 2 is an exit (and 1 more)",
         ["$.records[1].kind", "$.records[3].kind"]),
        (lanes[Direction.EXIT], body(lanes[Direction.EXIT], "refused", "entry"),
         "bound to the exit lane", "record 2 is an entry;", ["$.records[1].kind"]),
    ]  # fmt: skip
    for device, payload, lane, which, fields in refused:
        response = await device.post(UPLOAD_PATH, payload)
        assert response.status == 403, await response.text()
        problem = await response.json()
        assert problem["type"] == "urn:faregate:problem:wrong-lane", problem
        assert lane in problem["detail"], problem
        assert which in problem["detail"], problem
        assert [error["field"] for error in problem["errors"]] == fields, problem
        async with uows() as uow:
            assert await uow.parking.events_count(device.id) == 0
    # Each lane's own passages and its refusals are applied; a barrier bound without a
    # direction serves both lanes.
    fitting = [
        (lanes[Direction.ENTRY], ("entry", "refused", "entry"), {"entries": 2, "exits": 0}),
        (lanes[Direction.EXIT], ("refused", "exit"), {"entries": 0, "exits": 1}),
        (lanes[None], ("entry", "exit", "refused"), {"entries": 1, "exits": 1}),
    ]
    for device, kinds, counts in fitting:
        response = await device.post(UPLOAD_PATH, body(device, *kinds))
        assert response.status == 200, await response.text()
        answer = await response.json()
        assert {key: answer[key] for key in counts} == counts, answer
        assert answer["applied"] == len(kinds), answer
