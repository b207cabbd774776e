"""A screenshot shared inside one station while its Redis was down (issue 20): the rider's
code and its screenshot accepted at two gates of the station, each deciding on its own memory,
are flagged by the day's settlement as a `shared_code` exception (figures, report, finance's
list of the day's exceptions), on SQLite and PostgreSQL. An honest rider is not."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.wallets import open_funded_wallets
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.services.settlement import settle
from ticketing.services.settlement_days import day_exceptions
from ticketing.services.taps import ingest_and_price
from ticketing.taps import Tap, TapKind
from ticketing.unit_of_work import UnitOfWorkFactory

ADMIN = Actor.administrator("t")
HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = date(2026, 11, 24)
STEP = 59_017_560  # the TOTP step of 07:00 local on the day


def tap(
    gate: str, seq: int, credential: int, account: str, minute: int, stop: str, kind: TapKind,
    step: int,
) -> Tap:  # fmt: skip
    return Tap(
        gate, seq, credential, account, datetime(2026, 11, 24, 7, minute, tzinfo=HANOI), "m2a",
        stop, kind, step,
    )  # fmt: skip


async def test_a_code_accepted_at_two_gates_of_a_station_is_flagged(
    uow_factory: UnitOfWorkFactory, feed: FareFeed, tmp_path: Path
) -> None:
    async with uow_factory() as uow:
        await open_funded_wallets(uow, ["alice", "bob"])
        await uow.commit()
    await ingest_and_price(
        uow_factory,
        feed,
        [
            # alice's code, and a screenshot of it at the next gate of Cát Linh
            tap("gate-cl-1", 1, 42, "alice", 0, "m2a_01", TapKind.ENTRY, STEP),
            tap("gate-cl-2", 1, 42, "alice", 0, "m2a_01", TapKind.ENTRY, STEP),
            tap("gate-ht-1", 1, 42, "alice", 20, "m2a_12", TapKind.EXIT, STEP + 40),
            # bob rides honestly: a new step at each gate, the same code at another station
            tap("gate-cl-1", 2, 43, "bob", 1, "m2a_01", TapKind.ENTRY, STEP + 2),
            tap("gate-lt-1", 1, 43, "bob", 1, "m2a_02", TapKind.EXIT, STEP + 2),
        ],
    )
    outcome = await settle(uow_factory, feed, DAY, who=ADMIN, report_dir=tmp_path)
    assert outcome.summary.exceptions.get("shared_code") == 1
    figures = json.loads((tmp_path / "settlement.json").read_text(encoding="utf-8"))
    assert figures["controls"]["ok"]
    found = [e for e in await day_exceptions(uow_factory, DAY) if e.kind == "shared_code"]
    assert [(e.reference, e.amount.amount, e.detail) for e in found] == [
        (
            "alice",
            0,
            {
                "account": "alice",
                "credential": "42",
                "step": STEP,
                "station": "m2a_01",
                "gates": ["gate-cl-1", "gate-cl-2"],
                "taps": ["gate-cl-1#1", "gate-cl-2#1"],
                "first_at": datetime(2026, 11, 24, 0, 0, tzinfo=ZoneInfo("UTC")).isoformat(),
            },
        )
    ]
    assert "shared code" in (tmp_path / "report.html").read_text(encoding="utf-8")
