"""Stand-in backends for the staff pages' tests: an operator's morning (two lots, three
devices, two fees not collected) and settlement days as the settlement service reports them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from faregate.errors import SettlementRefused
from faregate.web import LotOccupancy
from faregate.web.finance import (
    ControlStatus,
    DayReport,
    DayStatus,
    Download,
    OperatorRevenue,
    ReviewCharge,
    ReviewStatement,
    RunPanel,
    SettlementDay,
    SettlementException,
)
from faregate.web.operator import DeviceStatus, OperatorOverview, UncollectedExit
from ticketing.money import Money
from ticketing.settlement.drilldown import OperatorDrilldown

VND = "VND"
AS_OF = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)

# A staff page is Vietnamese unless the reader asks for English: the tests that read the
# pages' English texts ask for it, as a browser set to English does
# (tests/web/test_staff_language.py reads the Vietnamese).
ENGLISH = {"Accept-Language": "en"}


def operator_overview() -> OperatorOverview:
    """An operator's morning: two lots, three devices (one late, one never heard from)."""
    return OperatorOverview(
        operator="Hoàn Kiếm Parking",
        as_of=AS_OF,
        lots=(
            LotOccupancy(
                lot_id="HK-01",
                name="Hàng Đào",
                capacity=120,
                occupied=87,
                free=33,
                updated_at=AS_OF,
            ),
            LotOccupancy(
                lot_id="HK-02",
                name="Lý Thái Tổ",
                capacity=60,
                occupied=59,
                free=1,
                updated_at=AS_OF,
            ),
        ),
        devices=(
            DeviceStatus(
                device_id="HK-01-IN",
                kind="entry barrier",
                location="Hàng Đào",
                last_upload_at=AS_OF - timedelta(minutes=2),
                journal_lag=0,
            ),
            DeviceStatus(
                device_id="HK-01-OUT",
                kind="exit barrier",
                location="Hàng Đào",
                last_upload_at=AS_OF - timedelta(hours=1, minutes=5),
                journal_lag=312,
            ),
            DeviceStatus(
                device_id="HK-02-IN",
                kind="entry barrier",
                location="Lý Thái Tổ",
                last_upload_at=None,
                journal_lag=None,
            ),
        ),
        uncollected=(
            UncollectedExit(
                session_id="S-88121",
                lot_name="Hàng Đào",
                credential_id=4711,
                plate="29A-123.45",
                entered_at=AS_OF - timedelta(hours=3),
                exited_at=AS_OF - timedelta(minutes=40),
                fee=Money(50_000, VND),
                reason="barrier offline, wallet unknown",
            ),
            UncollectedExit(
                session_id="S-88140",
                lot_name="Lý Thái Tổ",
                credential_id=5120,
                plate=None,
                entered_at=AS_OF - timedelta(hours=2),
                exited_at=AS_OF - timedelta(minutes=10),
                fee=Money(25_000, VND),
                reason="card declined",
            ),
        ),
    )


SETTLED_DAY = date(2026, 11, 28)
CLOSED_DAY = date(2026, 11, 29)


class FakeFinance:
    """Settlement days as the settlement service will report them; records started days."""

    def __init__(self) -> None:
        self.started: list[date] = []
        self.approved: list[date] = []
        self.days = [
            SettlementDay(
                service_day=date(2026, 11, 30),
                status=DayStatus.OPEN,
                control=ControlStatus.NOT_RUN,
                taps=48_210,
                collected=None,
                exceptions=0,
            ),
            SettlementDay(
                service_day=CLOSED_DAY,
                status=DayStatus.CLOSED,
                control=ControlStatus.NOT_RUN,
                taps=1_204_877,
                collected=None,
                exceptions=0,
            ),
            SettlementDay(
                service_day=SETTLED_DAY,
                status=DayStatus.SETTLED,
                control=ControlStatus.BALANCED,
                taps=1_187_002,
                collected=Money(9_804_561_000, VND),
                exceptions=2,
            ),
            SettlementDay(
                service_day=date(2026, 11, 27),
                status=DayStatus.SETTLED,
                control=ControlStatus.OUT_OF_BALANCE,
                taps=1_190_356,
                collected=Money(9_911_020_000, VND),
                exceptions=5,
            ),
        ]

    async def list_days(self, request: web.Request) -> list[SettlementDay]:
        return self.days

    async def report(self, request: web.Request, day: date) -> DayReport | None:
        found = [d for d in self.days if d.service_day == day]
        if not found:
            return None
        hourly = [0, 0, 0, 0, 0, 12, 48, 96, 88, 51, 40, 42, 47, 44, 41, 46, 63, 94, 99, 62, 38, 27]
        return DayReport(
            day=found[0],
            by_operator=(
                OperatorRevenue(
                    operator="Hanoi Metro 2A",
                    gross=Money(4_100_000_000, VND),
                    net=Money(3_950_000_000, VND),
                ),
                OperatorRevenue(
                    operator="Transerco buses",
                    gross=Money(4_300_000_000, VND),
                    net=Money(4_180_000_000, VND),
                ),
                OperatorRevenue(
                    operator="Hoàn Kiếm Parking",
                    gross=Money(1_404_561_000, VND),
                    net=Money(1_380_000_000, VND),
                ),
            ),
            by_hour=tuple(Money(n * 10_000_000, VND) for n in [*hourly, 9, 3]),
            exceptions=(
                SettlementException(
                    kind="missing at gateway",
                    reference="charge:A-1029:2026-11-28",
                    amount=Money(64_000, VND),
                    since=day,
                    detail="ledger charge with no gateway record",
                ),
                SettlementException(
                    kind="amount mismatch",
                    reference="pi_3Qx9",
                    amount=Money(8_000, VND),
                    since=day - timedelta(days=3),
                    detail="gateway 72,000 VND, ledger 64,000 VND",
                ),
            ),
            downloads=(
                Download(
                    label="Statement, Hanoi Metro 2A (CSV)",
                    href=f"/static/test-statements/{day.isoformat()}-metro.csv",
                ),
                Download(label="Settlement report (HTML)", href=f"/reports/{day.isoformat()}"),
            ),
        )

    async def start_settlement(self, request: web.Request, day: date) -> None:
        found = [d for d in self.days if d.service_day == day]
        if not found or found[0].status is not DayStatus.CLOSED:
            raise SettlementRefused(f"{day.isoformat()} is not a closed day")
        self.started.append(day)

    async def approve_settlement(self, request: web.Request, day: date) -> None:
        if day not in self.started:
            raise SettlementRefused(f"{day.isoformat()} is not prepared")
        self.approved.append(day)

    async def drilldown(
        self, request: web.Request, day: date, operator: str
    ) -> OperatorDrilldown | None:
        return None

    async def run(self, request: web.Request, day: date) -> RunPanel | None:
        """A started day is prepared (by someone else), then settling once approved."""
        if day not in self.started:
            return None
        approved = day in self.approved
        at = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
        return RunPanel(
            state="settling" if approved else "prepared",
            stage="priced",
            running="charged" if approved else None,
            done=1_200 if approved else 0,
            total=48_000 if approved else 0,
            prepared_by="fin-lan",
            prepared_at=at,
            approved_by="fin-minh" if approved else None,
            approved_at=at if approved else None,
            error=None,
            charges=48_000,
            charges_total=Money(1_296_000_000, VND),
            largest=(ReviewCharge(account="A-1029", amount=Money(280_000, VND)),),
            statements=(
                ReviewStatement(
                    operator="Hanoi Metro 2A",
                    rides=51_000,
                    gross=Money(790_000_000, VND),
                    net=Money(780_000_000, VND),
                ),
            ),
            can_approve=not approved,
            operators=(("HMC", "Hanoi Metro 2A"),),
        )
