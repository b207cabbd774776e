"""A barrier's journal record becomes the same `BarrierEvent` whether the barrier holds it or
the device API decoded it."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from faregate.api.routes.parking import BarrierRecordDoc
from parking.records import BarrierEvent, EventKind
from parking.sessions import CollectFailure
from simulators.barrier import BarrierRecord, record_to_wire

AT = datetime(2026, 11, 24, 18, 5, tzinfo=UTC)


def test_the_barriers_record_and_its_decoded_upload_give_one_event() -> None:
    held = BarrierRecord(
        device_id="barrier-1", seq=7, lot_id="hoan-kiem", kind=EventKind.EXIT, at=AT,
        session_seq=3, credential_id=2**63 + 1, plate="29A-123.45", vehicle="car",
        reason="ok", step=None, tariff_id="hanoi-car", fee=50_000, currency="VND",
        collected=0, failure=CollectFailure.CARD_DECLINED, passback_violation=False,
        lost_credential=False,
    )  # fmt: skip
    decoded = msgspec.json.decode(msgspec.json.encode(record_to_wire(held)), type=BarrierRecordDoc)

    event = BarrierEvent.from_journal(held)

    assert event == BarrierEvent.from_journal(decoded)
    assert event.kind is EventKind.EXIT
    assert event.failure == "card_declined"
    assert type(event.failure) is str
    assert event.session_id == "barrier-1:3"
