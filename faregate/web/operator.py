"""The parking operator's page (`/operator`): lots with live occupancy, devices, and the exits
where the barrier could not take the fee.

The dataclasses below are what the page needs; an `OperatorSource` fills them
(`faregate.web.operator_source.ServicesOverview` from the parking and device services; a test
may give its own). The devices come a page at a time, filtered by id, station and lot from the
query string (`?search=&station=&lot=&after=`, `DeviceFilter`), with a link to the next page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

from aiohttp import web

from faregate.i18n import N_, money_of
from faregate.web.occupancy import OCCUPANCY, LotOccupancy
from faregate.web.pages import render_staff, words
from ticketing.money import Money

# A device that has not uploaded for this long is shown as late (gates upload every few minutes
# while online; longer means an outage or a fault worth a look).
LATE_AFTER = timedelta(minutes=15)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceStatus:
    """One gate, validator or barrier, as its uploads show it."""

    device_id: str
    kind: str = ""  # e.g. "entry barrier", "exit barrier"; "": not known
    location: str = ""
    last_upload_at: datetime | None  # None: never uploaded
    journal_lag: int | None  # records the device holds that the backend has not committed
    records: int | None = None  # records of its journal the backend holds
    # Its health (`ticketing.services.device_health`); "": not known (no registry entry).
    state: str = ""  # online, late, offline, revoked, pending
    holds: str = ""  # "config 3f9c… · keys k7 · deny list v1042 · fw 2.4.1"
    alarms: tuple[str, ...] = ()  # "device fault: nfc.reader", ...


@dataclass(frozen=True, slots=True, kw_only=True)
class UncollectedExit:
    """A stay whose fee the exit barrier could not take (the "offline, unable to collect" case)."""

    session_id: str
    lot_name: str
    credential_id: int | None  # None: no pass read (a lost credential)
    plate: str | None
    entered_at: datetime
    exited_at: datetime
    fee: Money
    reason: str  # why, in the barrier's words: "wallet short", "card declined", "offline"...


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceFilter:
    """Which devices the page lists: those whose id contains `search`, at `station` (a stop
    or its parent), of `lot`, from after the id `after` (a page of them)."""

    search: str = ""
    station: str = ""
    lot: str = ""
    after: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OperatorOverview:
    operator: str
    as_of: datetime
    lots: tuple[LotOccupancy, ...]
    devices: tuple[DeviceStatus, ...]
    uncollected: tuple[UncollectedExit, ...]
    device_filter: DeviceFilter = DeviceFilter()
    next_after: str | None = None  # the id the next page of devices starts after; None: last


OperatorSource = Callable[[web.Request], Awaitable[OperatorOverview]]
OPERATOR_SOURCE = web.AppKey[OperatorSource]("operator_source")


@dataclass(frozen=True, slots=True, kw_only=True)
class DeviceRow:
    status: DeviceStatus
    last_upload: str  # "12 min ago" or "never"
    late: bool


# The words the sources put in a row, which the page translates as it shows them: a device's
# state and kind, why a fee could not be taken, who is signed in.
SOURCE_WORDS = (
    N_("online"), N_("late"), N_("offline"), N_("revoked"), N_("pending"), N_("unregistered"),
    N_("gate"), N_("validator"), N_("barrier"), N_("entry barrier"), N_("exit barrier"),
    N_("insufficient funds"), N_("card declined"), N_("barrier offline"),
    N_("operator"), N_("finance"), N_("inspector"), N_("passenger"), N_("administrator"),
)  # fmt: skip


def ago(now: datetime, then: datetime, tr: Callable[[str], str] = str) -> str:
    """How long ago, in the words `tr` translates to (the page's language)."""
    seconds = max(int((now - then).total_seconds()), 0)
    if seconds < 60:
        return tr(N_("just now"))
    if seconds < 3600:
        return tr(N_("{minutes} min ago")).format(minutes=seconds // 60)
    if seconds < 86400:
        return tr(N_("{hours} h {minutes} min ago")).format(
            hours=seconds // 3600, minutes=seconds % 3600 // 60
        )
    return tr(N_("{days} days ago")).format(days=seconds // 86400)


def device_row(device: DeviceStatus, now: datetime, tr: Callable[[str], str] = str) -> DeviceRow:
    if device.last_upload_at is None:
        return DeviceRow(status=device, last_upload=tr(N_("never")), late=True)
    return DeviceRow(
        status=device,
        last_upload=ago(now, device.last_upload_at, tr),
        late=now - device.last_upload_at > LATE_AFTER,
    )


def totals(amounts: list[Money]) -> list[Money]:
    """One total per currency, in order of first appearance."""
    sums: dict[str, Money] = {}
    for amount in amounts:
        sums[amount.currency] = (
            sums[amount.currency] + amount if amount.currency in sums else amount
        )
    return list(sums.values())


async def operator_page(request: web.Request) -> web.Response:
    overview = await request.app[OPERATOR_SOURCE](request)
    # The page shows the broadcaster's figure where it is newer than the source's.
    latest = {o.lot_id: o for o in request.app[OCCUPANCY].snapshot()}
    lots = [
        replace(latest[lot.lot_id], name=lot.name)
        if lot.lot_id in latest and latest[lot.lot_id].updated_at > lot.updated_at
        else lot
        for lot in overview.lots
    ]
    more = overview.device_filter
    next_url = (
        None
        if overview.next_after is None
        else "?"
        + urlencode(
            {
                **{k: v for k, v in asdict(more).items() if v and k != "after"},
                "after": overview.next_after,
            }
        )
        + "#devices"
    )
    tr = words(request)
    return render_staff(
        request,
        "operator.html",
        overview=overview,
        device_filter=more,
        next_devices_url=next_url,
        lots=lots,
        devices=[device_row(d, overview.as_of, tr) for d in overview.devices],
        uncollected_totals=[money_of(t) for t in totals([u.fee for u in overview.uncollected])],
        late_minutes=int(LATE_AFTER.total_seconds() // 60),
        show_place=any(d.kind or d.location for d in overview.devices),
        show_health=any(d.state for d in overview.devices),
        events_url=str(request.app.router["operator_occupancy_events"].url_for()),
        # The lot pages, when mounted (faregate.web.parking_pages).
        lot_url=(
            (lambda lot_id: str(request.app.router["operator_lot"].url_for(lot_id=lot_id)))
            if "operator_lot" in request.app.router
            else None
        ),
    )
