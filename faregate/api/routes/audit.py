"""Finance API (Auth.FINANCE): the audit log of staff actions.

- `GET /api/v1/finance/audit`: lines newest first, filtered by the query parameters (all
  optional, combined): `actor` (a username or administrator login), `action` (`sign-in`,
  `user-added`, `settlement-started`...), `target_kind` and `target_id` (an id needs its kind),
  `since` and `until` (RFC 3339 times with a zone; since included, until not), `limit` (1-500,
  default 50) and `cursor` (a page's `next`, for the page after it). `next` is null on the last
  page. A line's `id` is a string, as every id that could outgrow a JavaScript number.

Reads `ticketing.services.audit.read_audit`, the same as the finance page's audit log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from faregate.api.context import UOWS
from faregate.api.registry import Auth, Call, RouteRegistry
from ticketing.audit import (
    DEFAULT_PAGE,
    MAX_NAME,
    MAX_PAGE,
    MAX_TARGET_ID,
    ActorRole,
    AuditAction,
    AuditEntry,
    AuditQuery,
    TargetKind,
)
from ticketing.services.audit import read_audit

routes = RouteRegistry()


class AuditFilters(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    actor: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)] | None = None
    action: AuditAction | None = None
    target_kind: TargetKind | None = None
    target_id: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TARGET_ID)] | None = None
    since: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    until: Annotated[datetime, msgspec.Meta(tz=True)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE
    cursor: Annotated[str, msgspec.Meta(min_length=1, max_length=64)] | None = None


class ActorDocument(msgspec.Struct, kw_only=True):
    name: str
    role: ActorRole


class TargetDocument(msgspec.Struct, kw_only=True):
    kind: TargetKind
    id: str


class AuditEntryDocument(msgspec.Struct, kw_only=True):
    id: str
    at: datetime
    actor: ActorDocument
    action: AuditAction
    target: TargetDocument
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str | None

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryDocument:
        return cls(
            id=str(entry.id),
            at=entry.at,
            actor=ActorDocument(name=entry.actor.name, role=entry.actor.role),
            action=entry.action,
            target=TargetDocument(kind=entry.target.kind, id=entry.target.id),
            before=None if entry.before is None else dict(entry.before),
            after=None if entry.after is None else dict(entry.after),
            reason=entry.reason,
        )


class AuditPageDocument(msgspec.Struct, kw_only=True):
    """Lines newest first; `next`: the cursor of the following page, null on the last."""

    entries: list[AuditEntryDocument]
    next: str | None


@routes.route(
    "GET", "/api/v1/finance/audit", summary="The audit log of staff actions, newest first",
    tag="finance", auth=Auth.FINANCE, query=AuditFilters, response=AuditPageDocument,
    errors=[422],
)  # fmt: skip
async def list_audit(call: Call) -> AuditPageDocument:
    filters = call.query_as(AuditFilters)
    query = AuditQuery(
        actor=filters.actor,
        action=filters.action,
        target_kind=filters.target_kind,
        target_id=filters.target_id,
        since=filters.since,
        until=filters.until,
        limit=filters.limit,
        cursor=filters.cursor,
    )
    page = await read_audit(call.app[UOWS], query)
    return AuditPageDocument(
        entries=[AuditEntryDocument.of(entry) for entry in page.entries], next=page.next
    )
