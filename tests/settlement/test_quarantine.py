"""Taps the backend cannot attribute or price, on SQLite and PostgreSQL: acknowledged and
quarantined at upload, exceptions of their day, never in the way of settlement (its day and
every later day settle), and resolved by finance: attributed (then priced as a late tap of its
day, an adjustment of the next run) or written off, with who and why in the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from parking.unit_of_work import ParkingUnitOfWorkFactory
from tests.helpers.devices import barrier, gate, register, validator
from tests.helpers.parking import lot_config, open_lot
from tests.helpers.settlement import DAY, NEXT, at
from tests.wallets import open_funded_wallets
from ticketing.audit import Actor, AuditAction
from ticketing.errors import (
    NotAttributable,
    QuarantineResolved,
    UnknownQuarantinedTap,
    WrongDeviceKind,
)
from ticketing.fares.feed import FareFeed
from ticketing.journal import (
    QUARANTINED_TAP,
    DeviceTap,
    QuarantineReason,
    QuarantineStatus,
    Resolution,
)
from ticketing.riders import CredentialRecord
from ticketing.services.journal import (
    feed_places,
    ingest_journal,
    quarantined_taps,
    resolve_quarantined,
)
from ticketing.services.settlement import settle
from ticketing.services.settlement_days import day_exceptions, list_days
from ticketing.services.taps import price_account_days
from ticketing.taps import TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

FINANCE = Actor.administrator("fiona")
ALICE_CREDENTIAL = 2**63 + 12345  # above 2**53: survives as a string, stored as an unsigned id
UNKNOWN_CREDENTIAL = 777
NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)  # after NEXT's cut-off


Record = DeviceTap  # a journal tap as a device uploads it


@pytest.fixture
def uows(uow_factory: UnitOfWorkFactory) -> UnitOfWorkFactory:
    return UnitOfWorkFactory(uow_factory.engine, clock=lambda: NOW)


async def _city(uows: UnitOfWorkFactory) -> None:
    async with uows() as uow:
        await open_funded_wallets(uow, ["alice", "bob"])
        issued = datetime(2026, 11, 1, tzinfo=UTC)
        await uow.riders.issue_credential(
            CredentialRecord(
                ALICE_CREDENTIAL, "alice", issued, issued + timedelta(days=365), issued
            )
        )
        await uow.commit()
    for device, stop in (("gate-01", "m2a_01"), ("gate-12", "m2a_12")):
        await register(uows, device, gate(stop))


def _ride(seq: int, credential: int, day_hour: tuple[object, int]) -> list[Record]:
    day, hour = day_hour
    start = at(day, hour, 0)  # type: ignore[arg-type]
    return [
        Record("gate-01", seq, credential, start, "m2a", "m2a_01", TapKind.ENTRY),
        Record("gate-12", seq, credential, start + timedelta(minutes=25), "m2a", "m2a_12",
               TapKind.EXIT),
    ]  # fmt: skip


async def _upload(uows: UnitOfWorkFactory, feed: FareFeed, records: list[Record]) -> list[str]:
    """Each device's records uploaded; the reasons of the taps quarantined."""
    reasons: list[str] = []
    for device in sorted({r.device_id for r in records}):
        mine = [r for r in records if r.device_id == device]
        result = await ingest_journal(uows, device, mine, feed=feed, places=feed_places(feed))
        assert result.new + result.duplicate == result.received == len(mine)
        reasons += [reason.value for _, reason in result.quarantined]
    return reasons


async def _price_queued(uows: UnitOfWorkFactory, feed: FareFeed) -> None:
    async with uows() as uow:
        keys = await uow.pricing_queue.claim(1000)
    await price_account_days(uows, feed, keys)


async def test_a_tap_is_priced_on_its_credentials_account_whatever_else(
    uows: UnitOfWorkFactory, feed: FareFeed
) -> None:
    await _city(uows)
    assert await _upload(uows, feed, _ride(1, ALICE_CREDENTIAL, (DAY, 7))) == []
    await _price_queued(uows, feed)
    async with uows() as uow:
        alice = await uow.pricing.latest("alice", DAY)
        bob = await uow.pricing.latest("bob", DAY)
        stored = await uow.taps.for_account("alice", at(DAY, 0, 0), at(NEXT, 23, 0))
    assert alice is not None
    assert bob is None
    assert {t.credential_id for t in stored} == {ALICE_CREDENTIAL}


async def test_an_unknown_credential_is_quarantined_and_every_day_still_settles(
    uows: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    await _city(uows)
    reasons = await _upload(
        uows, feed, [*_ride(1, ALICE_CREDENTIAL, (DAY, 7)), *_ride(3, UNKNOWN_CREDENTIAL, (DAY, 8))]
    )
    assert reasons == ["unknown-credential", "unknown-credential"]
    # uploaded again (a lost acknowledgement): nothing new anywhere
    again = await ingest_journal(
        uows, "gate-01", _ride(3, UNKNOWN_CREDENTIAL, (DAY, 8))[:1], feed=feed,
        places=feed_places(feed),
    )  # fmt: skip
    assert (again.new, again.duplicate, again.quarantined) == (0, 1, ())
    await _upload(uows, feed, _ride(5, ALICE_CREDENTIAL, (NEXT, 9)))
    first = await settle(uows, feed, DAY, who=FINANCE, report_dir=tmp_path / "d1")
    second = await settle(uows, feed, NEXT, who=FINANCE, report_dir=tmp_path / "d2")
    assert first.summary.control_ok
    assert second.summary.control_ok
    exceptions = [e for e in await day_exceptions(uows, DAY) if e.kind == QUARANTINED_TAP]
    assert len(exceptions) == 2
    assert {e.detail["reason"] for e in exceptions} == {"unknown-credential"}
    assert {e.detail["credential"] for e in exceptions} == {str(UNKNOWN_CREDENTIAL)}
    assert not [e for e in await day_exceptions(uows, NEXT) if e.kind == QUARANTINED_TAP]
    states = {d.day: d.state for d in await list_days(uows)}
    assert (states[DAY], states[NEXT]) == ("settled", "settled")

    # finance attributes the ride to alice: priced as a late tap of DAY, an adjustment of the
    # next run
    for tap in await quarantined_taps(uows, DAY, status=QuarantineStatus.OPEN):
        resolved = await resolve_quarantined(
            uows, tap.id, Resolution.ATTRIBUTE, feed=feed, who=FINANCE,
            reason="alice's old phone, reported at the desk", account_id="alice",
        )  # fmt: skip
        assert (resolved.status, resolved.account_id) == (QuarantineStatus.ATTRIBUTED, "alice")
        assert resolved.resolved_by == "fiona"
    later = NEXT + timedelta(days=1)
    third = await settle(uows, feed, later, who=FINANCE, report_dir=tmp_path / "d3")
    assert third.summary.adjustments == 1
    assert third.summary.control_ok
    async with uows() as uow:
        latest = await uow.pricing.latest("alice", DAY)
        audit = await uow.session.execute(text("SELECT action, reason FROM audit_log"))
        lines = [tuple(row) for row in audit]
    assert latest is not None
    assert latest.version == 2
    assert (
        lines.count((AuditAction.TAP_RESOLVED.value, "alice's old phone, reported at the desk"))
        == 2
    )
    statuses = {
        e.detail["status"] for e in await day_exceptions(uows, DAY) if e.kind == QUARANTINED_TAP
    }
    assert statuses == {"attributed"}


async def test_taps_that_do_not_fit_their_device_or_the_feed_are_quarantined(
    uows: UnitOfWorkFactory, feed: FareFeed
) -> None:
    await _city(uows)
    await register(uows, "bus-32", validator("bus32"))
    start = at(DAY, 7, 0)
    records = [
        Record("gate-01", 1, ALICE_CREDENTIAL, start, "m2a", "m2a_05", TapKind.ENTRY),
        Record("gate-01", 2, ALICE_CREDENTIAL, start, "m2a", "nowhere", TapKind.ENTRY),
        Record("gate-01", 3, ALICE_CREDENTIAL, start, "no-route", "m2a_01", TapKind.ENTRY),
        Record("gate-01", 4, ALICE_CREDENTIAL, datetime(2099, 1, 1, tzinfo=UTC), "m2a", "m2a_01",
               TapKind.ENTRY),
        Record("gate-01", 5, ALICE_CREDENTIAL, datetime(2000, 1, 1, tzinfo=UTC), "m2a", "m2a_01",
               TapKind.ENTRY),
    ]  # fmt: skip
    assert await _upload(uows, feed, records) == [
        "wrong-place", "unknown-stop", "unknown-route", "implausible-time", "implausible-time",
    ]  # fmt: skip
    on_the_bus = [Record("bus-32", 1, ALICE_CREDENTIAL, start, "bus66", "m2a_01", TapKind.BOARD)]
    assert await _upload(uows, feed, on_the_bus) == ["wrong-place"]
    async with uows() as uow:
        assert await uow.taps.count() == 0
        assert await uow.pricing_queue.claim(10) == []
    # a tap at a place or time pricing cannot use can only be written off
    [unknown_stop] = [
        t for t in await quarantined_taps(uows, DAY) if t.reason is QuarantineReason.UNKNOWN_STOP
    ]
    with pytest.raises(NotAttributable, match="write it off"):
        await resolve_quarantined(
            uows, unknown_stop.id, Resolution.ATTRIBUTE, feed=feed, who=FINANCE,
            reason="try", account_id="alice",
        )  # fmt: skip
    written = await resolve_quarantined(
        uows, unknown_stop.id, Resolution.WRITE_OFF, feed=feed, who=FINANCE, reason="test gate"
    )
    assert written.status is QuarantineStatus.WRITTEN_OFF
    assert written.account_id is None
    with pytest.raises(QuarantineResolved, match="written off by fiona"):
        await resolve_quarantined(
            uows, unknown_stop.id, Resolution.WRITE_OFF, feed=feed, who=FINANCE, reason="again"
        )


async def test_bad_resolutions_are_refused_clearly(uows: UnitOfWorkFactory, feed: FareFeed) -> None:
    await _city(uows)
    await _upload(uows, feed, _ride(1, UNKNOWN_CREDENTIAL, (DAY, 7)))
    tap = (await quarantined_taps(uows, DAY))[0]
    cases: list[tuple[Resolution, str | None, str, type[Exception], str]] = [
        (Resolution.ATTRIBUTE, "nobody", "why", NotAttributable, "no account 'nobody'"),
        (Resolution.ATTRIBUTE, None, "why", NotAttributable, "needs the account"),
        (Resolution.WRITE_OFF, "alice", "why", NotAttributable, "no account"),
        (Resolution.WRITE_OFF, None, "  ", NotAttributable, "give the reason"),
        (Resolution.WRITE_OFF, None, "x" * 501, NotAttributable, "give the reason"),
    ]
    for resolution, account, reason, error, message in cases:
        with pytest.raises(error, match=message):
            await resolve_quarantined(
                uows, tap.id, resolution, feed=feed, who=FINANCE, reason=reason,
                account_id=account,
            )  # fmt: skip
    with pytest.raises(UnknownQuarantinedTap):
        await resolve_quarantined(
            uows, 10**9, Resolution.WRITE_OFF, feed=feed, who=FINANCE, reason="why"
        )


async def test_a_barrier_cannot_upload_taps(uows: UnitOfWorkFactory, feed: FareFeed) -> None:
    await _city(uows)
    lot = await open_lot(ParkingUnitOfWorkFactory(uows.engine, uows.clock), lot_config())
    await register(uows, "barrier-1", barrier(lot.lot_id))
    with pytest.raises(WrongDeviceKind):
        await ingest_journal(
            uows, "barrier-1", _ride(1, ALICE_CREDENTIAL, (DAY, 7))[:1], feed=feed,
            places=feed_places(feed),
        )  # fmt: skip
