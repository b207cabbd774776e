"""Device API: what gates and barriers fetch and upload, each request signed by the device.

- `GET /device/v1/keyset`: the public key-set document (issuer keys, liveness key ids).
- `GET /device/v1/deny-list` and `GET /device/v1/deny-list/delta?since=V`: the deny list
  whole, or its net change since version V, in the JSON shapes `qr.denylist` loads (`DenyList`,
  `DenyListDelta`); a device already at the current version gets 204 and no body.
- `GET /device/v1/fare-feed`: the fare feed and its version, as ETag (304 on If-None-Match).
- `GET /device/v1/clock`: the server clock, unsigned (a device whose clock is off by more than
  the allowed skew cannot sign, so this is how it finds out).
- `POST /device/v1/journal`: a batch of journal records: accepted taps (`records`, each naming
  the credential as a decimal string, never an account) and refused decisions (`refusals`).
  Each carries the device id and the device's sequence number; the batch is judged and stored
  by `ticketing.services.journal.ingest_journal` (each tap attributed to its credential's
  account; a tap that cannot be attributed or priced, or does not fit the device's binding,
  is quarantined with its reason; insert or skip, keyed by both; the account-days touched
  are marked for pricing in the same transaction) and acknowledged only after the commit, so
  a repeated or overlapping batch stores nothing twice and the answer says how many records
  were new, already stored, or already stored with a different body (conflicting: the first
  one is kept), and which were quarantined. Every record must carry the authenticated
  device's id; an unknown field (such as an `account_id`) is a 422.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec
from aiohttp import web

from faregate.api.context import CONFIG, FARE_FEED, FEED_PLACES, METRICS, PRICING_FEED, UOWS
from faregate.api.error_table import ProblemType
from faregate.api.errors import Problem
from faregate.api.fare_feed import FareFeedDocument
from faregate.api.registry import Auth, Call, RouteRegistry
from qr.errors import QRError
from qr.keys import load_keyset
from ticketing.errors import UnknownDevice
from ticketing.journal import JournalRefusal
from ticketing.services.journal import ingest_journal
from ticketing.services.riders import deny_list_delta, deny_list_snapshot
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
# bound (ticketing.db.types.UInt64) is in the schema only.
UINT64_MAX = 2**64 - 1
UInt64 = Annotated[int, msgspec.Meta(ge=0, extra_json_schema={"maximum": UINT64_MAX})]
# No control characters: PostgreSQL text cannot hold NUL, and no gate, stop or account id has one.
Id64 = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
AwareTime = Annotated[datetime, msgspec.Meta(tz=True)]
# Credential ids are 64-bit: as decimal strings, which JavaScript and double-based device code
# cannot corrupt (a JSON number above 2**53 loses its last digits there).
CredentialId = Annotated[str, msgspec.Meta(pattern=r"^(0|[1-9][0-9]{0,19})$")]
StepNumber = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


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
    """One accepted tap as the device journaled it; (device_id, device_seq) is its key. It
    names the credential (as a decimal string), never an account: the backend attributes the
    tap. `deny_list_version` and `deny_list_stale` say which deny list the gate decided with."""

    device_id: Id64
    device_seq: SequenceNumber
    credential_id: CredentialId
    at: AwareTime
    route_id: Id64
    stop_id: Id64
    kind: TapKind
    step: StepNumber | None = None
    deny_list_version: UInt64 | None = None
    deny_list_stale: bool = False


class RefusalRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One decision the device refused, and why (`qr.decision.Reason`'s words, or the
    device's own): counted per device, stop and reason."""

    device_id: Id64
    device_seq: SequenceNumber
    at: AwareTime
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_.-]+$")]
    credential_id: CredentialId | None = None
    route_id: Id64 | None = None
    stop_id: Id64 | None = None
    step: StepNumber | None = None
    deny_list_version: UInt64 | None = None
    deny_list_stale: bool = False


class JournalBatch(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Accepted taps (`records`) and refused decisions (`refusals`): at least one of either."""

    records: Annotated[list[JournalRecord], msgspec.Meta(max_length=MAX_BATCH_RECORDS)] = []
    refusals: Annotated[list[RefusalRecord], msgspec.Meta(max_length=MAX_BATCH_RECORDS)] = []


class QuarantinedRecord(msgspec.Struct, kw_only=True):
    device_seq: int
    reason: str


class UploadResult(msgspec.Struct, kw_only=True):
    """`new + duplicate == received` (taps and refusals); `conflicting` (within duplicate)
    lists sequence numbers stored earlier with a different body: the stored record was kept.
    `quarantined` (within new) lists the taps the backend stored but will not price until
    finance resolves them, with the reason: the device may drop them like any other."""

    received: int
    new: int
    duplicate: int
    conflicting: list[int]
    quarantined: list[QuarantinedRecord]


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


# The signing device was deregistered between its request's check and its upload.
DEVICE_GONE = ProblemType(403, "device-auth", "Device not authorised")


@routes.route(
    "POST", "/device/v1/journal", summary="Upload a batch of journal records", tag="device",
    auth=Auth.DEVICE, body=JournalBatch, response=UploadResult, errors=[403],
    max_body=MAX_UPLOAD_BYTES, problems={UnknownDevice: DEVICE_GONE},
)  # fmt: skip
async def upload_journal(call: Call) -> UploadResult:
    device_id = call.require_subject()
    batch = call.body_as(JournalBatch)
    records, refused = batch.records, batch.refusals
    if not records and not refused:
        raise Problem(422, "validation", "Invalid body", "the batch holds no records")
    ids = {r.device_id for r in records} | {r.device_id for r in refused}
    foreign = sorted(ids - {device_id})
    if foreign:
        raise Problem(
            403, "foreign-records", "Records of another device",
            f"device {device_id} may upload only its own records, not those of "
            f"{', '.join(foreign[:3])}{' …' if len(foreign) > 3 else ''}; nothing was stored",
        )  # fmt: skip
    for index, record in enumerate(records):
        _check_record(record.at, record.credential_id, f"$.records[{index}]")
    for index, refusal in enumerate(refused):
        _check_record(refusal.at, refusal.credential_id, f"$.refusals[{index}]")
    # The decoded records go to the service as they are (msgspec has checked what a tap
    # needs), with the credential id as the number it is: building a value per record cost
    # more than the rest of the upload.
    taps = [_DecodedTap(r) for r in records]
    refusals = [
        JournalRefusal(
            device_id=r.device_id,
            device_seq=r.device_seq,
            at=r.at,
            reason=r.reason,
            credential_id=None if r.credential_id is None else int(r.credential_id),
            route_id=r.route_id,
            stop_id=r.stop_id,
            step=r.step,
            deny_list_version=r.deny_list_version,
            deny_list_stale=r.deny_list_stale,
        )
        for r in refused
    ]
    result = await ingest_journal(
        call.app[UOWS], device_id, taps, refusals,
        feed=call.app[PRICING_FEED], places=call.app[FEED_PLACES],
    )  # fmt: skip
    metrics = call.app[METRICS]
    inserted = result.new - len(result.new_refusals)
    metrics.taps_ingested.inc(inserted - len(result.quarantined))
    metrics.taps_duplicate.inc(len(records) - inserted)
    for _, reason in result.quarantined:
        metrics.taps_quarantined.labels(reason.value).inc()
    for counted in result.new_refusals:
        metrics.device_refusals.labels(device_id, counted.stop_id or "", counted.reason).inc()
    return UploadResult(
        received=result.received,
        new=result.new,
        duplicate=result.duplicate,
        conflicting=list(result.conflicting),
        quarantined=[
            QuarantinedRecord(device_seq=seq, reason=reason.value)
            for seq, reason in result.quarantined
        ],
    )


class _DecodedTap:
    """A decoded record as `ticketing.journal.JournalTap`: its credential id as an int."""

    __slots__ = ("_record", "credential_id")

    def __init__(self, record: JournalRecord) -> None:
        self._record = record
        self.credential_id = int(record.credential_id)

    @property
    def device_id(self) -> str:
        return self._record.device_id

    @property
    def device_seq(self) -> int:
        return self._record.device_seq

    @property
    def at(self) -> datetime:
        return self._record.at

    @property
    def route_id(self) -> str:
        return self._record.route_id

    @property
    def stop_id(self) -> str:
        return self._record.stop_id

    @property
    def kind(self) -> TapKind:
        return self._record.kind

    @property
    def deny_list_stale(self) -> bool:
        return self._record.deny_list_stale

    @property
    def step(self) -> int | None:
        return self._record.step


def _check_record(at: datetime, credential_id: str | None, where: str) -> None:
    """Refuse what no store can hold: a time outside 2000..2100 (a tap far from the server's
    clock but inside it is quarantined, not refused), a credential id above 64 bits."""
    if not EARLIEST_TAP <= at < LATEST_TAP:
        raise Problem(
            422, "validation", "Invalid body",
            f"tap time {at.isoformat()} is outside {EARLIEST_TAP.year}.."
            f"{LATEST_TAP.year} - at `{where}.at`",
        )  # fmt: skip
    if credential_id is not None and int(credential_id) >= 2**64:
        raise Problem(
            422, "validation", "Invalid body",
            f"credential id {credential_id} is above 2^64-1 - at `{where}.credential_id`",
        )  # fmt: skip
