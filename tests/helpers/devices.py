"""Test devices, enrolled the way a real one is: registered through the registry service (what
`faregate devices add` and the operator API call), then enrolled over HTTP by the reference
device (`simulators.device_client.DeviceClient.enrol`) with a fresh X25519 key.

    client = await enrolled_client(uows, "http://127.0.0.1:8080", "gate-1", gate("m2a_01"))
    await client.get("/device/v1/keyset")

    code = await register(uows, "gate-2", gate())          # only registered: pending

The backend quarantines (or refuses) a record dated before its device was enrolled, so a test
whose records lie in the past puts its device in service before them (`in_service_since`:
the enrolment time moved back, as if the device had been enrolled then).
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime
from functools import cache
from pathlib import Path

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from parking.services import device_places
from parking.unit_of_work import ParkingUnitOfWorkFactory
from simulators.device_client import (
    ENROL_PATH,
    DeviceClient,
    enrolment_body,
    generate_device_key,
)
from ticketing.audit import Actor
from ticketing.clock import Clock, utc_now
from ticketing.db.device_models import DeviceRow
from ticketing.devices import Binding, DeviceKind, Direction
from ticketing.fares.feed import FareFeed, load_feed
from ticketing.services.devices import add_device
from ticketing.unit_of_work import UnitOfWorkFactory, create_engine

FEED = Path(__file__).resolve().parents[2] / "data" / "hanoi"
TESTS = Actor.administrator("tests")
GATE_STOP = "m2a_01"


@cache
def hanoi_feed() -> FareFeed:
    return load_feed(FEED)


def gate(stop: str = GATE_STOP) -> Binding:
    return Binding(kind=DeviceKind.GATE, stop_id=stop)


def validator(route: str = "bus32") -> Binding:
    return Binding(kind=DeviceKind.VALIDATOR, route_id=route)


def barrier(lot: str, direction: Direction | None = None) -> Binding:
    return Binding(kind=DeviceKind.BARRIER, lot_id=lot, direction=direction)


def device_id(prefix: str = "gate") -> str:
    """A fresh id: nonces and rate-limit windows in the shared Redis never collide."""
    return f"{prefix}-{secrets.token_hex(6)}"


async def register(uows: UnitOfWorkFactory, device: str, binding: Binding) -> str:
    """Register `device` at its place (which must exist: a feed stop or route, a lot in the
    database); its one-time enrolment code."""
    places = await device_places(ParkingUnitOfWorkFactory(uows.engine, uows.clock), hanoi_feed())
    return (await add_device(uows, device, binding, places=places, by=TESTS)).code


async def in_service_since(engine: AsyncEngine, device: str, at: datetime) -> None:
    """Record `device` as enrolled at `at` (before the records a test uploads for it)."""
    async with engine.begin() as connection:
        await connection.execute(
            update(DeviceRow).where(DeviceRow.device_id == device).values(enrolled_at=at)
        )


async def enrolled_client(
    uows: UnitOfWorkFactory,
    base_url: str,
    device: str,
    binding: Binding,
    *,
    http: httpx.AsyncClient | None = None,
    since: datetime | None = None,
    clock: Clock = utc_now,
) -> DeviceClient:
    """Register and enrol `device` (in service since `since`, when given); the reference
    client signing with its new secret at `clock`'s time (close it with `aclose`)."""
    code = await register(uows, device, binding)
    client = await DeviceClient.enrol(
        base_url, device, code, generate_device_key(), clock=clock, http=http
    )
    if since is not None:
        await in_service_since(uows.engine, device, since)
    return client


def enrol_on_server(
    db_url: str, base_url: str, device: str, binding: Binding, since: datetime | None = None
) -> bytes:
    """From a synchronous test: register `device` in the database of the running server at
    `base_url` and enrol it there (in service since `since`, when given); its secret."""

    async def registered() -> str:
        engine = create_engine(db_url)
        try:
            return await register(UnitOfWorkFactory(engine), device, binding)
        finally:
            await engine.dispose()

    async def backdated(at: datetime) -> None:
        engine = create_engine(db_url)
        try:
            await in_service_since(engine, device, at)
        finally:
            await engine.dispose()

    code = asyncio.run(registered())
    answer = httpx.post(
        base_url + ENROL_PATH,
        content=enrolment_body(device, code, generate_device_key()),
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    answer.raise_for_status()
    if since is not None:
        asyncio.run(backdated(since))
    return bytes.fromhex(answer.json()["secret"])
