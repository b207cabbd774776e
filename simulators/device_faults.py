"""Faults of devices and their links that a city day must survive (issue 20), as plain calls
on the device protocol of docs/DEVICE-API.md:

- `cut_upload`: a journal batch cut off part-way: the signed request goes out with its whole
  `Content-Length` but the connection drops after part of the body. The server must store
  nothing of it, and the device, having no answer, sends the batch again.
- `upload_twice`: a batch the server stored whose answer the device lost (a dropped link, or a
  gate killed after the upload and before it noted the acknowledgement), so it sends it again:
  the second answer must count every record as a duplicate.
- `clock_skews`: which devices or phones run ±`CLOCK_SKEW` off, seeded.

A gate killed between journaling and upload needs no call of its own: its journal is committed
before each decision is returned (simulators/journal.py), so a new gate process on the same
file holds every record and uploads what no `200` acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from simulators.device_client import DeviceClient, sign_request
from simulators.faults import CLOCK_SKEW

JOURNAL_PATH = "/device/v1/journal"

K = TypeVar("K")


def journal_body(taps: list[dict[str, Any]], refusals: list[dict[str, Any]]) -> bytes:
    """A journal upload's body, as `DeviceClient.upload` sends it."""
    batch: dict[str, Any] = {"records": taps}
    if refusals:
        batch["refusals"] = refusals
    return json.dumps(batch, separators=(",", ":")).encode()


async def cut_upload(
    client: DeviceClient,
    base_url: str,
    taps: list[dict[str, Any]],
    refusals: list[dict[str, Any]],
    *,
    at: datetime,
    keep: float = 0.5,
) -> int:
    """Send the batch signed at device time `at`, announcing its whole length, and drop the
    connection after the first `keep` share of the body; the bytes that went out."""
    if not 0 <= keep < 1:
        raise ValueError(f"keep must be a share of the body below 1, got {keep}")
    body = journal_body(taps, refusals)
    headers = sign_request(client.secret, client.device_id, "POST", JOURNAL_PATH, body, at=at)
    target = urlsplit(base_url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    head = [f"POST {JOURNAL_PATH} HTTP/1.1", f"Host: {host}:{port}"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head += ["Content-Type: application/json", f"Content-Length: {len(body)}", "", ""]
    sent = int(len(body) * keep)
    _, writer = await asyncio.open_connection(host, port)
    try:
        writer.write("\r\n".join(head).encode() + body[:sent])
        await writer.drain()
    finally:
        writer.transport.abort()  # the link drops: no FIN, no rest of the body
    return sent


async def upload_twice(
    client: DeviceClient, taps: list[dict[str, Any]], refusals: list[dict[str, Any]]
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """Upload the batch, then again as a device that never saw the first answer does; both
    answers (each must be 200: the second's records all duplicates)."""
    answers = []
    for _ in range(2):
        answer = await client.upload(taps, refusals)
        answer.raise_for_status()
        answers.append(answer.json())
    return answers[0], answers[1]


def clock_skews(ids: Iterable[K], share: float, seed: int) -> dict[K, timedelta]:
    """A seeded `share` of `ids` (in the order given), each `CLOCK_SKEW` fast or slow."""
    rng = random.Random(seed)
    return {
        key: CLOCK_SKEW if rng.random() < 0.5 else -CLOCK_SKEW
        for key in ids
        if rng.random() < share
    }
