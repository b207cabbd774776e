"""Device API: what gates and barriers fetch and upload, each request signed by the device.

- `GET /device/v1/keyset`: the public key-set document (issuer keys, liveness key ids).
- `GET /device/v1/deny-list` and `GET /device/v1/deny-list/delta?since=V`: the deny list
  whole, or its net change since version V, in the JSON shapes `qr.denylist` loads (`DenyList`,
  `DenyListDelta`); a device already at the current version gets 204 and no body.
- `GET /device/v1/fare-feed`: the fare feed and its version, as ETag (304 on If-None-Match).
- `GET /device/v1/clock`: the server clock, unsigned (a device whose clock is off by more than
  the allowed skew cannot sign, so this is how it finds out).
- `POST /device/v1/journal`: a batch of journal records. Each carries the device id and the
  device's sequence number; the batch is stored by `ticketing.services.taps.ingest_taps`
  (insert or skip, keyed by both; the account-days it touches are marked for pricing in the
  same transaction) and acknowledged only after the commit, so a repeated or overlapping
  batch stores nothing twice and the answer says how many records were new, already stored,
  or already stored with a different body (conflicting: the first one is kept). Every record
  must carry the authenticated device's id.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from faregate.api.context import CONFIG, FARE_FEED, METRICS, PRICING_FEED, UOWS
from faregate.api.errors import Problem
from faregate.api.fare_feed import FareFeedDocument
from faregate.api.registry import Auth, Call, RouteRegistry
from qr.errors import QRError
from qr.keys import load_keyset
from ticketing.services.riders import deny_list_delta, deny_list_snapshot
from ticketing.services.taps import ingest_taps
from ticketing.taps import TapKind

routes = RouteRegistry()

MAX_BATCH_RECORDS = 10_000
MAX_UPLOAD_BYTES = 8 * 1024 * 1024
# Tap times the database can store in every backend and timezone; anything outside is a broken
# device clock, refused rather than stored.
EARLIEST_TAP = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TAP = datetime(2100, 1, 1, tzinfo=UTC)
SequenceNumber = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
# msgspec decodes integers of any size and takes no bound beyond int64, so the column's upper
# bound (ticketing.db.types.UInt64) is in the schema and checked by `check_uint64`.
UINT64_MAX = 2**64 - 1
UInt64 = Annotated[int, msgspec.Meta(ge=0, extra_json_schema={"maximum": UINT64_MAX})]
# No control characters: PostgreSQL text cannot hold NUL, and no gate, stop or account id has one.
Id64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]


def check_uint64(name: str, value: int | None) -> None:
    """Refuse (as msgspec's ValidationError, at the record's path) an id over 64 bits."""
    if value is not None and value > UINT64_MAX:
        raise ValueError(f"`{name}` must be at most 2**64 - 1")


class IssuerKey(msgspec.Struct, kw_only=True):
    kid: int
    alg: Literal["Ed25519"]
    public_key: str
    not_before: str
    not_after: str


class LivenessKey(msgspec.Struct, kw_only=True):
    kid: int
    totp: str
    period: int
    not_before: str
    not_after: str


class KeySetDocument(msgspec.Struct, kw_only=True):
    """The public key set a gate verifies with (docs/TOKEN-SPEC.md)."""

    format: str
    issuer_keys: list[IssuerKey]
    liveness_keys: list[LivenessKey]


# A credential id as a decimal string: ids above 2**53 are not safe as JSON numbers.
CredentialIdText = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]{0,19})$")]


class DenyListDocument(msgspec.Struct, kw_only=True):
    """The whole deny list as `qr.denylist.DenyList.to_json()` writes it (a gate loads it with
    `DenyList.from_json`); credential ids as decimal strings."""

    format: Literal["faregate-deny-list/1"]
    version: UInt64
    ids: list[CredentialIdText]
    issued_at: str | None


class DenyListQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    since: Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class DenyListDeltaDocument(msgspec.Struct, kw_only=True):
    """The net change from `from_version` to `to_version` as `qr.denylist.DenyListDelta
    .to_json()` writes it: remove `removed`, then add `added`."""

    format: Literal["faregate-deny-delta/1"]
    from_version: UInt64
    to_version: UInt64
    added: list[CredentialIdText]
    removed: list[CredentialIdText]
    issued_at: str | None


class ServerClock(msgspec.Struct, kw_only=True):
    now: datetime
    unix_ms: int


class JournalRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One accepted passage as the device journaled it; (device_id, device_seq) is its key."""

    device_id: Id64
    device_seq: SequenceNumber
    credential_id: UInt64
    account_id: Id64
    at: AwareTime
    route_id: Id64
    stop_id: Id64
    kind: TapKind

    def __post_init__(self) -> None:
        check_uint64("credential_id", self.credential_id)


class JournalBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    records: Annotated[
        list[JournalRecord], msgspec.Meta(min_length=1, max_length=MAX_BATCH_RECORDS)
    ]


class UploadResult(msgspec.Struct, kw_only=True):
    """`new + duplicate == received`; `conflicting` (within duplicate) lists sequence numbers
    stored earlier with a different body: the stored record was kept."""

    received: int
    new: int
    duplicate: int
    conflicting: list[int]


@routes.route(
    "GET", "/device/v1/keyset", summary="The public key set", tag="device",
    auth=Auth.DEVICE, response=KeySetDocument, errors=[503],
)  # fmt: skip
async def get_keyset(call: Call) -> KeySetDocument:
    keys_dir = call.app[CONFIG].keys_dir
    try:
        keyset = await asyncio.to_thread(load_keyset, keys_dir)
    except (OSError, QRError) as error:
        raise Problem(
            503, "no-keyset", "Key set unavailable", f"no usable key set in {keys_dir}: {error}"
        ) from error
    return msgspec.convert(keyset.to_json(), KeySetDocument)


DENY_LIST_VERSION = "X-Faregate-Deny-List-Version"


@routes.route(
    "GET", "/device/v1/deny-list", summary="The whole deny list and its version",
    tag="device", auth=Auth.DEVICE, response=DenyListDocument,
)  # fmt: skip
async def get_deny_list(call: Call) -> DenyListDocument:
    deny_list = await deny_list_snapshot(call.app[UOWS])
    return msgspec.convert(deny_list.to_json(), DenyListDocument)


@routes.route(
    "GET", "/device/v1/deny-list/delta",
    summary="The deny-list change since version `since` (204: up to date)",
    tag="device", auth=Auth.DEVICE, query=DenyListQuery, response=DenyListDeltaDocument,
    errors=[204, 409],
)  # fmt: skip
async def get_deny_list_delta(call: Call) -> DenyListDeltaDocument | web.StreamResponse:
    since = call.query_as(DenyListQuery).since
    delta = await deny_list_delta(call.app[UOWS], since)
    if delta is None:
        return web.Response(status=204, headers={DENY_LIST_VERSION: str(since)})
    return msgspec.convert(delta.to_json(), DenyListDeltaDocument)


IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The ETag of the feed the device holds; 304 if it is still current.",
}


@routes.route(
    "GET", "/device/v1/fare-feed", summary="The fare feed, versioned by ETag", tag="device",
    auth=Auth.DEVICE, response=FareFeedDocument, errors=[304], parameters=[IF_NONE_MATCH],
)  # fmt: skip
async def get_fare_feed(call: Call) -> FareFeedDocument | web.StreamResponse:
    feed = call.app[FARE_FEED]
    etag = f'"{feed.version}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    wanted = call.request.headers.get("If-None-Match", "")
    if etag in (tag.strip() for tag in wanted.split(",")) or wanted.strip() == "*":
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=msgspec.json.encode(feed), content_type="application/json", headers=headers
    )


@routes.route(
    "GET", "/device/v1/clock", summary="The server clock", tag="device", response=ServerClock
)
async def get_clock(call: Call) -> ServerClock:
    now = call.app[CONFIG].clock()
    return ServerClock(now=now, unix_ms=int(now.timestamp() * 1000))


@routes.route(
    "POST", "/device/v1/journal", summary="Upload a batch of journal records", tag="device",
    auth=Auth.DEVICE, body=JournalBatch, response=UploadResult, errors=[403],
    max_body=MAX_UPLOAD_BYTES,
)  # fmt: skip
async def upload_journal(call: Call) -> UploadResult:
    device_id = call.require_subject()
    records = call.body_as(JournalBatch).records
    foreign = sorted({r.device_id for r in records if r.device_id != device_id})
    if foreign:
        raise Problem(
            403, "foreign-records", "Records of another device",
            f"device {device_id} may upload only its own records, not those of "
            f"{', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}; nothing was stored",
        )  # fmt: skip
    for index, record in enumerate(records):
        if not EARLIEST_TAP <= record.at < LATEST_TAP:
            raise Problem(
                422, "validation", "Invalid body",
                f"tap time {record.at.isoformat()} is outside {EARLIEST_TAP.year}.."
                f"{LATEST_TAP.year} - at `$.records[{index}].at`",
            )  # fmt: skip
    # The decoded records go to the store as they are: msgspec has checked everything a Tap
    # would (aware times, types, kinds), and building a Tap per record cost more than the rest.
    result = await ingest_taps(call.app[UOWS], records, feed=call.app[PRICING_FEED])
    metrics = call.app[METRICS]
    metrics.taps_ingested.inc(result.inserted)
    metrics.taps_duplicate.inc(result.duplicates)
    return UploadResult(
        received=len(records),
        new=result.inserted,
        duplicate=result.duplicates,
        conflicting=[seq for _, seq in result.conflicts],
    )
