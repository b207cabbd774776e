"""Finance API (Auth.FINANCE) for quarantined taps: taps the backend could not attribute or
price (`ticketing.journal`), kept out of pricing until finance resolves each.

- `GET /api/v1/finance/quarantine?day=&status=`: the service day's quarantined taps (open,
  attributed or written off; one status if given), each with its reason and resolution. They
  are also among the day's exceptions (`GET /api/v1/finance/exceptions?day=`).
- `POST /api/v1/finance/quarantine/{id}/resolve` `{"resolution": "attribute" | "write_off",
  "account_id"?, "reason"}`: attribute the tap to an account (priced then as a late tap of its
  day, an adjustment of the next settlement) or write it off, with why; in the audit log under
  the signed-in user. 404 for no such tap, 409 when it was resolved already, 422 when it
  cannot be resolved so (a place or time pricing cannot use, an unknown account).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import msgspec

from faregate.api.context import PRICING_FEED, UOWS
from faregate.api.errors import Problem
from faregate.api.registry import Auth, Call, RouteRegistry
from ticketing.audit import Actor
from ticketing.journal import QuarantinedTap, QuarantineStatus, Resolution
from ticketing.services.journal import quarantined_taps, resolve_quarantined

routes = RouteRegistry()

ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
    "description": "The quarantined tap's id (`quarantine_id` in the day's exceptions).",
}


class QuarantineQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    day: date
    status: QuarantineStatus | None = None


class QuarantinedTapDocument(msgspec.Struct, kw_only=True):
    id: int
    device_id: str
    device_seq: int
    credential_id: str  # decimal: 64-bit ids do not survive JSON numbers
    at: datetime
    route_id: str
    stop_id: str
    kind: str
    deny_list_stale: bool
    reason: str
    detail: str
    received_at: datetime
    status: str
    account_id: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    note: str | None


class QuarantineList(msgspec.Struct, kw_only=True):
    day: date
    taps: list[QuarantinedTapDocument]


class ResolveRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    resolution: Resolution
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
    account_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


def _document(tap: QuarantinedTap) -> QuarantinedTapDocument:
    return QuarantinedTapDocument(
        id=tap.id, device_id=tap.device_id, device_seq=tap.device_seq,
        credential_id=str(tap.credential_id), at=tap.at, route_id=tap.route_id,
        stop_id=tap.stop_id, kind=tap.kind.value, deny_list_stale=tap.deny_list_stale,
        reason=tap.reason.value, detail=tap.detail, received_at=tap.received_at,
        status=tap.status.value, account_id=tap.account_id, resolved_by=tap.resolved_by,
        resolved_at=tap.resolved_at, note=tap.note,
    )  # fmt: skip


@routes.route(
    "GET", "/api/v1/finance/quarantine", summary="A service day's quarantined taps",
    tag="finance", auth=Auth.FINANCE, query=QuarantineQuery, response=QuarantineList,
)  # fmt: skip
async def list_quarantine(call: Call) -> QuarantineList:
    query = call.query_as(QuarantineQuery)
    found = await quarantined_taps(call.app[UOWS], query.day, status=query.status)
    return QuarantineList(day=query.day, taps=[_document(t) for t in found])


@routes.route(
    "POST", "/api/v1/finance/quarantine/{id}/resolve",
    summary="Attribute a quarantined tap to an account, or write it off",
    tag="finance", auth=Auth.FINANCE, body=ResolveRequest, response=QuarantinedTapDocument,
    errors=[404, 409], parameters=[ID_PARAMETER],
)  # fmt: skip
async def post_resolve(call: Call) -> QuarantinedTapDocument:
    raw = call.request.match_info["id"]
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) < 2**63:
        raise Problem(
            404, "unknown-quarantined-tap", "No such quarantined tap", f"no tap {raw[:40]!r}"
        )
    request = call.body_as(ResolveRequest)
    # Refusals (UnknownQuarantinedTap 404, QuarantineResolved 409, NotAttributable 422) are
    # answered from the error table.
    resolved = await resolve_quarantined(
        call.app[UOWS], int(raw), request.resolution, feed=call.app[PRICING_FEED],
        who=Actor.of(call.user), reason=request.reason, account_id=request.account_id,
    )  # fmt: skip
    return _document(resolved)
