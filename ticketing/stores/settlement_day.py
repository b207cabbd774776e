"""The day's read model for settlement: what a service day's taps, priced legs, parking fees
and passes add up to, aggregated in SQL.

Every aggregate over taps and priced legs is one GROUP BY statement (the day of a million
taps is summed by the database, not row by row in Python); only the account-days whose legs
share a pool (caps, transfer chains) come back leg by leg for the pool rules. The legs counted
are those of the version of each account-day that the day settled at
(`settlement_account_days`, pinned by `SettlementRecords.record_settled_versions`). Values come
back as the settlement rules' own types (`ticketing.settlement.compute`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, cast, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select, Subquery

from ticketing.db.dialect import dialect_name
from ticketing.db.models import (
    EntryRow,
    PassRow,
    PostingRow,
    PricedDayRow,
    PricedLegRow,
    TapRow,
    table_of,
)
from ticketing.db.payments_models import PaymentAttemptRow
from ticketing.db.settlement_models import SettledAccountDayRow, SettlementDayRow
from ticketing.ledger.accounts import AccountKind
from ticketing.money import Money
from ticketing.payments.model import (
    OPEN_ATTEMPT,
    AttemptStatus,
    PaymentPurpose,
    daily_charge_key,
    parking_charge_key,
)
from ticketing.postings import (
    hold_capture_id,
    parking_fee_id,
    parking_hold_id,
    parking_permit_id,
)
from ticketing.service_day import DEFAULT_TIMEZONE, service_day
from ticketing.settlement.apportion import PassSale, Ride
from ticketing.settlement.compute import (
    OperatorRides,
    UncollectedDay,
    UncollectedParking,
    UnpricedLeg,
)
from ticketing.settlement.drilldown import DayChargeRow, OperatorLeg
from ticketing.settlement.shared_codes import SteppedTap

TAPS = table_of(TapRow)
PRICED_DAYS = table_of(PricedDayRow)
LEGS = table_of(PricedLegRow)
ENTRIES = table_of(EntryRow)
POSTINGS = table_of(PostingRow)
ATTEMPTS = table_of(PaymentAttemptRow)
PASSES = table_of(PassRow)
SETTLED = table_of(SettledAccountDayRow)
DAYS = table_of(SettlementDayRow)
COLLECTED_STATUSES = (AttemptStatus.SUCCEEDED.value, AttemptStatus.RECOVERED.value)
OPERATOR_PREFIX = f"{AccountKind.OPERATOR.value}:"  # every operator payable's code starts so
_SERVICE_ZONE = ZoneInfo(DEFAULT_TIMEZONE)  # the report's hours, as charges_by_hour's
# How parking's postings are named (ticketing.postings): fees, holds, a hold's capture, permits.
_FEE_PREFIX = parking_fee_id("")
_HOLD_PREFIX = parking_hold_id("")
_PERMIT_PREFIX = parking_permit_id("")
_CAPTURE_SUFFIX = hold_capture_id("")
_RECEIVABLE_PREFIX = f"{AccountKind.RECEIVABLE.value}:"


class DayReadModel:
    """A service day's activity as settlement reads it (see the module docstring)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # -- taps and pricing of a day ----------------------------------------------------------

    async def tap_count(self, start: datetime, end: datetime, *, up_to: int | None = None) -> int:
        query = select(func.count()).select_from(TAPS).where(TAPS.c.at >= start, TAPS.c.at < end)
        if up_to is not None:
            query = query.where(TAPS.c.id <= up_to)
        return int(await self._session.scalar(query) or 0)

    async def repeated_steps(
        self, start: datetime, end: datetime, *, up_to: int | None = None
    ) -> list[SteppedTap]:
        """Taps made in [start, end) (with ids up to `up_to`, the day's close, if given) whose
        credential and TOTP step were accepted more than once in the window: the candidates
        for `shared_codes` (which keeps those at two gates of one station)."""
        window = [TAPS.c.at >= start, TAPS.c.at < end, TAPS.c.step.is_not(None)]
        if up_to is not None:
            window.append(TAPS.c.id <= up_to)
        repeated = (
            select(TAPS.c.credential_id, TAPS.c.step)
            .where(*window)
            .group_by(TAPS.c.credential_id, TAPS.c.step)
            .having(func.count() > 1)
            .subquery("repeated")
        )
        rows = await self._session.execute(
            select(
                TAPS.c.device_id, TAPS.c.device_seq, TAPS.c.credential_id, TAPS.c.account_id,
                TAPS.c.step, TAPS.c.stop_id, TAPS.c.at,
            )
            .join(
                repeated,
                and_(
                    repeated.c.credential_id == TAPS.c.credential_id,
                    repeated.c.step == TAPS.c.step,
                ),
            )
            .where(*window)
            .order_by(TAPS.c.device_id, TAPS.c.device_seq)
        )  # fmt: skip
        return [
            SteppedTap(
                device_id=d,
                device_seq=int(q),
                credential_id=int(c),
                account_id=a,
                step=int(s),
                stop_id=stop,
                at=at,
            )
            for d, q, c, a, s, stop, at in rows
        ]

    async def first_activity(self) -> date | None:
        """The service day of the first activity on record (a tap or a posting: a parking fee,
        a pass or permit sold, a top-up) or of the first settlement record, whichever is
        earlier; None when there is none. One statement, each minimum read off an index."""
        first_tap = select(func.min(TAPS.c.at)).scalar_subquery()
        first_posting = select(func.min(POSTINGS.c.occurred_at)).scalar_subquery()
        first_record = select(func.min(DAYS.c.day)).scalar_subquery()
        row = (await self._session.execute(select(first_tap, first_posting, first_record))).one()
        days = [service_day(at) for at in row[:2] if at is not None]
        if row[2] is not None:
            days.append(row[2])
        return min(days, default=None)

    def _latest(self, day: date) -> Subquery:
        return (
            select(
                PRICED_DAYS.c.account_id,
                func.max(PRICED_DAYS.c.version).label("version"),
            )
            .where(PRICED_DAYS.c.service_day == day)
            .group_by(PRICED_DAYS.c.account_id)
            .subquery("latest")
        )

    async def pending_account_days(self, day: date, start: datetime, end: datetime) -> list[str]:
        """Accounts whose taps of the day differ in number from what their latest price used
        (never priced, or taps arrived since)."""
        tapped = (
            select(TAPS.c.account_id, func.count().label("taps"))
            .where(TAPS.c.at >= start, TAPS.c.at < end)
            .group_by(TAPS.c.account_id)
            .subquery("tapped")
        )
        latest = self._latest(day)
        priced = (
            select(PRICED_DAYS.c.account_id, PRICED_DAYS.c.tap_count)
            .join(
                latest,
                and_(
                    PRICED_DAYS.c.account_id == latest.c.account_id,
                    PRICED_DAYS.c.version == latest.c.version,
                ),
            )
            .where(PRICED_DAYS.c.service_day == day)
            .subquery("priced")
        )
        rows = await self._session.execute(
            select(tapped.c.account_id)
            .outerjoin(priced, priced.c.account_id == tapped.c.account_id)
            .where(or_(priced.c.tap_count.is_(None), priced.c.tap_count != tapped.c.taps))
            .order_by(tapped.c.account_id)
        )
        return list(rows.scalars())

    async def late_accounts(
        self, day: date, start: datetime, end: datetime, mark: int
    ) -> list[str]:
        """Accounts with taps of `day` stored after the day closed (tap id above `mark`)."""
        rows = await self._session.execute(
            select(TAPS.c.account_id)
            .where(TAPS.c.at >= start, TAPS.c.at < end, TAPS.c.id > mark)
            .distinct()
            .order_by(TAPS.c.account_id)
        )
        return list(rows.scalars())

    async def receivable_fares(
        self, day: date, accounts: Iterable[str] | None = None
    ) -> dict[str, Money]:
        """Per account (of `accounts`, else every one priced on `day`): the part of its fares
        of `day` that its receivable pays (all of them for a postpaid rider, what the wallet
        could not cover for a prepaid one), at the version the day settled at, or its latest
        before the day is settled; accounts with none left out. One statement."""
        latest = self._latest(day)
        version = func.coalesce(SETTLED.c.version, latest.c.version)
        query = (
            select(latest.c.account_id, func.sum(ENTRIES.c.amount), func.min(ENTRIES.c.currency))
            .select_from(latest)
            .outerjoin(
                SETTLED,
                and_(SETTLED.c.service_day == day, SETTLED.c.account_id == latest.c.account_id),
            )
            .join(
                PRICED_DAYS,
                and_(
                    PRICED_DAYS.c.account_id == latest.c.account_id,
                    PRICED_DAYS.c.service_day == day,
                    PRICED_DAYS.c.version == version,
                ),
            )
            .join(
                ENTRIES,
                and_(
                    ENTRIES.c.posting_id == PRICED_DAYS.c.posting_id,
                    ENTRIES.c.account_code == literal(_RECEIVABLE_PREFIX) + latest.c.account_id,
                ),
            )
            .group_by(latest.c.account_id)
            .order_by(latest.c.account_id)
        )
        if accounts is not None:
            query = query.where(latest.c.account_id.in_(sorted(set(accounts))))
        rows = await self._session.execute(query)
        return {a: Money(int(amount), c) for a, amount, c in rows if int(amount) > 0}

    async def receivable_part(self, account_id: str, day: date, version: int) -> int:
        """What the receivable pays of one version of an account-day's fares (0: none)."""
        amount = await self._session.scalar(
            select(func.coalesce(func.sum(ENTRIES.c.amount), 0))
            .select_from(PRICED_DAYS)
            .join(ENTRIES, ENTRIES.c.posting_id == PRICED_DAYS.c.posting_id)
            .where(
                PRICED_DAYS.c.account_id == account_id,
                PRICED_DAYS.c.service_day == day,
                PRICED_DAYS.c.version == version,
                ENTRIES.c.account_code == f"{_RECEIVABLE_PREFIX}{account_id}",
            )
        )
        return int(amount or 0)

    async def day_charges(
        self,
        day: date,
        *,
        open_only: bool = False,
        key: Callable[[str, date], str] = daily_charge_key,
    ) -> dict[str, int]:
        """Per account: the amount its daily charge of `day` asked for (its first attempt,
        whatever became of it, or only those whose outcome is not known yet; adjustments and
        retries apart)."""
        query = select(ATTEMPTS.c.id, ATTEMPTS.c.account_id, ATTEMPTS.c.amount).where(
            ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
            ATTEMPTS.c.service_day == day,
            ATTEMPTS.c.id == ATTEMPTS.c.charge_key,
        )
        if open_only:
            query = query.where(ATTEMPTS.c.status.in_([s.value for s in OPEN_ATTEMPT]))
        rows = await self._session.execute(query)
        return {
            account: int(amount)
            for attempt_id, account, amount in rows
            if attempt_id == key(account, day)
        }

    async def priced_accounts(self, day: date) -> list[str]:
        rows = await self._session.execute(
            select(PRICED_DAYS.c.account_id)
            .where(PRICED_DAYS.c.service_day == day)
            .distinct()
            .order_by(PRICED_DAYS.c.account_id)
        )
        return list(rows.scalars())

    def _settled_legs(self, day: date) -> Select[Any]:
        """Legs of the version of each account-day that `day` settled."""
        return select(LEGS).join(
            SETTLED,
            and_(
                SETTLED.c.service_day == day,
                LEGS.c.account_id == SETTLED.c.account_id,
                LEGS.c.service_day == SETTLED.c.service_day,
                LEGS.c.version == SETTLED.c.version,
            ),
        )

    def _uncollected(self, day: date) -> Any:
        """Account-days whose fare posting debited the receivable and whose daily charge has
        not been collected (the rest of a day's fares came out of wallets)."""
        owed = (
            select(func.coalesce(func.sum(ENTRIES.c.amount), 0))
            .select_from(PRICED_DAYS)
            .join(ENTRIES, ENTRIES.c.posting_id == PRICED_DAYS.c.posting_id)
            .where(
                PRICED_DAYS.c.account_id == SETTLED.c.account_id,
                PRICED_DAYS.c.service_day == SETTLED.c.service_day,
                PRICED_DAYS.c.version == SETTLED.c.version,
                ENTRIES.c.account_code == literal("receivable:") + SETTLED.c.account_id,
            )
            .scalar_subquery()
        )
        # The day's fares line (first attempt or a retry), not its parking or adjustment lines.
        prefix, suffix = daily_charge_key("\0", day).split("\0")
        charged = exists().where(
            ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
            ATTEMPTS.c.charge_key == literal(prefix) + SETTLED.c.account_id + literal(suffix),
            ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
        )
        return and_(owed > 0, ~charged)

    async def uncollected_days(self, day: date) -> list[UncollectedDay]:
        """The settled account-days not collected."""
        rows = await self._session.execute(
            select(SETTLED.c.account_id, PRICED_DAYS.c.total_amount, PRICED_DAYS.c.currency)
            .join(
                PRICED_DAYS,
                and_(
                    PRICED_DAYS.c.account_id == SETTLED.c.account_id,
                    PRICED_DAYS.c.service_day == SETTLED.c.service_day,
                    PRICED_DAYS.c.version == SETTLED.c.version,
                ),
            )
            .where(SETTLED.c.service_day == day, self._uncollected(day))
            .order_by(SETTLED.c.account_id)
        )
        return [UncollectedDay(account_id=a, total=int(t), currency=c) for a, t, c in rows]

    async def day_totals(self, day: date) -> tuple[int, int, str | None]:
        """(account-days, fares priced, currency) of the versions the day settled."""
        row = (
            await self._session.execute(
                select(
                    func.count(),
                    func.coalesce(func.sum(PRICED_DAYS.c.total_amount), 0),
                    func.min(PRICED_DAYS.c.currency),
                )
                .select_from(SETTLED)
                .join(
                    PRICED_DAYS,
                    and_(
                        PRICED_DAYS.c.account_id == SETTLED.c.account_id,
                        PRICED_DAYS.c.service_day == SETTLED.c.service_day,
                        PRICED_DAYS.c.version == SETTLED.c.version,
                    ),
                )
                .where(SETTLED.c.service_day == day)
            )
        ).one()
        return int(row[0]), int(row[1]), row[2]

    def _pooled_accounts(self, day: date) -> Any:
        """Account-days with a capped leg or a leg continuing another (their legs share pools)."""
        return (
            select(LEGS.c.account_id)
            .join(
                SETTLED,
                and_(
                    SETTLED.c.service_day == day,
                    LEGS.c.account_id == SETTLED.c.account_id,
                    LEGS.c.service_day == SETTLED.c.service_day,
                    LEGS.c.version == SETTLED.c.version,
                ),
            )
            .where(
                LEGS.c.pass_product_id.is_(None),
                or_(LEGS.c.capped, LEGS.c.joined, LEGS.c.transfer_product_id.is_not(None)),
            )
            .distinct()
        )

    async def single_fares(self, day: date) -> dict[str, int]:
        """Per operator: the charges of collected legs that are pools of their own."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.operator_id, func.sum(legs.c.amount))
            .join(
                SETTLED,
                and_(SETTLED.c.service_day == day, SETTLED.c.account_id == legs.c.account_id),
            )
            .where(
                legs.c.pass_product_id.is_(None),
                legs.c.amount > 0,
                legs.c.account_id.not_in(self._pooled_accounts(day)),
                ~self._uncollected(day),
            )
            .group_by(legs.c.operator_id)
        )
        return {op: int(total) for op, total in rows}

    async def pooled_rides(self, day: date) -> dict[str, list[Ride]]:
        """Per account: the legs of the collected account-days whose legs share pools, in leg
        order."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(
                legs.c.account_id,
                legs.c.operator_id,
                legs.c.amount,
                legs.c.undiscounted_amount,
                legs.c.capped,
                or_(legs.c.joined, legs.c.transfer_product_id.is_not(None)),
                legs.c.pass_product_id,
                legs.c.network_id,
            )
            .join(
                SETTLED,
                and_(SETTLED.c.service_day == day, SETTLED.c.account_id == legs.c.account_id),
            )
            .where(legs.c.account_id.in_(self._pooled_accounts(day)), ~self._uncollected(day))
            .order_by(legs.c.account_id, legs.c.leg_index)
        )
        by_account: dict[str, list[Ride]] = {}
        for account, op, amount, undiscounted, capped, continues, product, network in rows:
            by_account.setdefault(account, []).append(
                Ride(
                    operator_id=op,
                    undiscounted=int(undiscounted),
                    charged=int(amount),
                    continues_previous=bool(continues),
                    capped=bool(capped),
                    pass_product_id=product,
                    network_id=network,
                )
            )
        return by_account

    async def rides_by_operator(self, day: date) -> dict[str, OperatorRides]:
        """Per operator: (rides, undiscounted value) of every settled leg, pass rides too."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.operator_id, func.count(), func.sum(legs.c.undiscounted_amount)).group_by(
                legs.c.operator_id
            )
        )
        return {op: OperatorRides(rides=int(n), value=int(value)) for op, n, value in rows}

    async def parking_fees(self, start: datetime, end: datetime) -> dict[str, OperatorRides]:
        """Per parking operator: (sessions, fees) of the parking fees posted in the window
        (`parking:{session}[:{part}]`, and the captures of parking holds) and of the monthly
        permits sold in it (`parking-permit:{permit}`, each counted as one session, its whole
        price the operator's on the day of sale), as their credits to the operator's payable
        net of any reversal."""
        sessions: dict[str, set[str]] = {}
        fees: dict[str, int] = {}
        for posting_id, code, _, amount in await self._parking_fee_credits(start, end):
            operator_id = code.removeprefix(OPERATOR_PREFIX)
            session = posting_id.removeprefix(_HOLD_PREFIX).removeprefix(_FEE_PREFIX)
            session = session.removeprefix(_PERMIT_PREFIX)
            for suffix in (_CAPTURE_SUFFIX, ":rest", ":debt", ":reversal"):
                session = session.removesuffix(suffix)
            sessions.setdefault(operator_id, set()).add(session)
            fees[operator_id] = fees.get(operator_id, 0) + amount
        return {
            op: OperatorRides(rides=len(sessions[op]), value=fee)
            for op, fee in sorted(fees.items())
            if fee
        }

    async def parking_receivable(self, start: datetime, end: datetime) -> dict[str, Money]:
        """Per account: what its receivable was debited by the parking fees and parking debts
        posted in the window (net of reversals); accounts with none left out."""
        rows = await self._session.execute(
            select(ENTRIES.c.account_code, func.sum(ENTRIES.c.amount), func.min(ENTRIES.c.currency))
            .join(POSTINGS, POSTINGS.c.id == ENTRIES.c.posting_id)
            .where(
                POSTINGS.c.occurred_at >= start,
                POSTINGS.c.occurred_at < end,
                ENTRIES.c.account_code.startswith(_RECEIVABLE_PREFIX, autoescape=True),
                self._parking_posting(),
            )
            .group_by(ENTRIES.c.account_code)
            .order_by(ENTRIES.c.account_code)
        )
        return {
            code.removeprefix(_RECEIVABLE_PREFIX): Money(int(amount), currency)
            for code, amount, currency in rows
            if int(amount) > 0
        }

    async def parking_uncollected(
        self, day: date, start: datetime, end: datetime
    ) -> list[UncollectedParking]:
        """Per account and parking operator: the parking fees and debts of the window on the
        account's receivable (net of reversals) whose parking charge of `day` has not been
        collected, with the same by local hour of their posting (the exit)."""
        receivable, operator = ENTRIES.alias("receivable"), ENTRIES.alias("operator")
        rows = await self._session.execute(
            select(
                receivable.c.account_code,
                operator.c.account_code,
                POSTINGS.c.occurred_at,
                func.sum(receivable.c.amount),
                func.min(receivable.c.currency),
            )
            .join(POSTINGS, POSTINGS.c.id == receivable.c.posting_id)
            .join(operator, operator.c.posting_id == receivable.c.posting_id)
            .where(
                POSTINGS.c.occurred_at >= start,
                POSTINGS.c.occurred_at < end,
                receivable.c.account_code.startswith(_RECEIVABLE_PREFIX, autoescape=True),
                operator.c.account_code.startswith(OPERATOR_PREFIX, autoescape=True),
                self._parking_posting(),
            )
            .group_by(receivable.c.account_code, operator.c.account_code, POSTINGS.c.occurred_at)
        )
        owed: dict[tuple[str, str], dict[int, int]] = {}
        currencies: dict[tuple[str, str], str] = {}
        for code, op, occurred_at, amount, currency in rows:
            key = (code.removeprefix(_RECEIVABLE_PREFIX), op.removeprefix(OPERATOR_PREFIX))
            hours = owed.setdefault(key, {})
            hour = occurred_at.astimezone(_SERVICE_ZONE).hour
            hours[hour] = hours.get(hour, 0) + int(amount)
            currencies[key] = currency
        owed = {key: hours for key, hours in owed.items() if sum(hours.values()) > 0}
        if not owed:
            return []
        keys = {parking_charge_key(account, day) for account, _ in owed}
        collected = set(
            (
                await self._session.execute(
                    select(ATTEMPTS.c.account_id).where(
                        ATTEMPTS.c.charge_key.in_(sorted(keys)),
                        ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
                    )
                )
            ).scalars()
        )
        return [
            UncollectedParking(
                account_id=account,
                operator_id=op,
                amount=sum(hours.values()),
                currency=currencies[account, op],
                by_hour={hour: fee for hour, fee in sorted(hours.items()) if fee},
            )
            for (account, op), hours in sorted(owed.items())
            if account not in collected
        ]

    @staticmethod
    def _parking_posting() -> Any:
        """Parking's postings: fees (and their rests, debts, reversals), captured holds,
        permits sold."""
        return or_(
            POSTINGS.c.id.startswith(_FEE_PREFIX, autoescape=True),
            POSTINGS.c.id.startswith(_PERMIT_PREFIX, autoescape=True),
            and_(
                POSTINGS.c.id.startswith(_HOLD_PREFIX, autoescape=True),
                POSTINGS.c.id.endswith(_CAPTURE_SUFFIX, autoescape=True),
            ),
        )

    async def parking_fees_by_hour(self, start: datetime, end: datetime) -> dict[int, int]:
        """The same fees by local hour (Asia/Ho_Chi_Minh) of their posting: the exit."""
        by_hour: dict[int, int] = {}
        for _, _, occurred_at, amount in await self._parking_fee_credits(start, end):
            hour = occurred_at.astimezone(_SERVICE_ZONE).hour
            by_hour[hour] = by_hour.get(hour, 0) + amount
        return {hour: fee for hour, fee in sorted(by_hour.items()) if fee}

    async def _parking_fee_credits(
        self, start: datetime, end: datetime
    ) -> list[tuple[str, str, datetime, int]]:
        """(posting, operator account, posted at, credit) of every parking fee posting in the
        window: whole fees, their rests and reversals, captured parking holds, permits sold."""
        rows = await self._session.execute(
            select(
                ENTRIES.c.posting_id,
                ENTRIES.c.account_code,
                POSTINGS.c.occurred_at,
                func.sum(ENTRIES.c.amount),
            )
            .join(POSTINGS, POSTINGS.c.id == ENTRIES.c.posting_id)
            .where(
                POSTINGS.c.occurred_at >= start,
                POSTINGS.c.occurred_at < end,
                ENTRIES.c.account_code.startswith(OPERATOR_PREFIX, autoescape=True),
                self._parking_posting(),
            )
            .group_by(ENTRIES.c.posting_id, ENTRIES.c.account_code, POSTINGS.c.occurred_at)
        )
        # Entries are signed debit-positive: an operator's payable is credited, so negative.
        return [(posting, code, at, -int(amount)) for posting, code, at, amount in rows]

    async def pass_rides(self, day: date) -> dict[str, dict[str, int]]:
        """Per pass product, per operator: the undiscounted value of its holders' rides."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.pass_product_id, legs.c.operator_id, func.sum(legs.c.undiscounted_amount))
            .where(legs.c.pass_product_id.is_not(None))
            .group_by(legs.c.pass_product_id, legs.c.operator_id)
        )
        ridden: dict[str, dict[str, int]] = {}
        for product, op, value in rows:
            ridden.setdefault(product, {})[op] = int(value)
        return ridden

    async def recent_pass_rides(
        self, day: date, products: Iterable[str], *, weeks: int
    ) -> dict[str, dict[str, int]]:
        """Per pass product of `products`, per operator: the undiscounted value of its holders'
        rides on the days settled in the `weeks` weeks before `day` (the versions they settled)."""
        wanted = sorted(set(products))
        if not wanted:
            return {}
        rows = await self._session.execute(
            select(LEGS.c.pass_product_id, LEGS.c.operator_id, func.sum(LEGS.c.undiscounted_amount))
            .join(
                SETTLED,
                and_(
                    LEGS.c.account_id == SETTLED.c.account_id,
                    LEGS.c.service_day == SETTLED.c.service_day,
                    LEGS.c.version == SETTLED.c.version,
                ),
            )
            .where(
                SETTLED.c.service_day >= day - timedelta(weeks=weeks),
                SETTLED.c.service_day < day,
                LEGS.c.pass_product_id.in_(wanted),
            )
            .group_by(LEGS.c.pass_product_id, LEGS.c.operator_id)
        )
        ridden: dict[str, dict[str, int]] = {}
        for product, op, value in rows:
            ridden.setdefault(product, {})[op] = int(value)
        return ridden

    async def charges_by_hour(self, day: date) -> dict[int, int]:
        """Charged fares of the collected account-days by local hour (Asia/Ho_Chi_Minh, UTC+7
        all year) of the leg's start: an uncollected day is not revenue yet."""
        legs = self._settled_legs(day).subquery("legs")
        if dialect_name(self._session) == "postgresql":
            hour: Any = cast(
                func.extract("hour", func.timezone("Asia/Ho_Chi_Minh", legs.c.started_at)), Integer
            )
        else:
            hour = cast(func.strftime("%H", legs.c.started_at, "+7 hours"), Integer)
        rows = await self._session.execute(
            select(hour.label("hour"), func.sum(legs.c.amount))
            .join(
                SETTLED,
                and_(SETTLED.c.service_day == day, SETTLED.c.account_id == legs.c.account_id),
            )
            .where(legs.c.amount > 0, ~self._uncollected(day))
            .group_by(hour)
        )
        return {int(h): int(total) for h, total in rows}

    async def unpriced_legs(self, day: date) -> list[UnpricedLeg]:
        """Settled legs no fare product priced (issue 13: priced at 0, kept as exceptions),
        pass rides excepted."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(legs.c.account_id, legs.c.leg_index, legs.c.route_id, legs.c.operator_id)
            .where(legs.c.fare_product_id.is_(None), legs.c.pass_product_id.is_(None))
            .order_by(legs.c.account_id, legs.c.leg_index)
        )
        return [
            UnpricedLeg(account_id=a, leg_index=int(i), route_id=r, operator_id=o)
            for a, i, r, o in rows
        ]

    async def passes_valid(self, start: datetime, end: datetime) -> list[PassSale]:
        """Pass sales whose validity overlaps [start, end) and that were paid (posted), each
        valid from the service day of `valid_from` to that of `valid_until` (at least one)."""
        rows = await self._session.execute(
            select(
                PASSES.c.id,
                PASSES.c.fare_product_id,
                PASSES.c.price_amount,
                PASSES.c.price_currency,
                PASSES.c.valid_from,
                PASSES.c.valid_until,
            )
            .where(
                PASSES.c.valid_from < end,
                PASSES.c.valid_until > start,
                PASSES.c.posting_id.is_not(None),
            )
            .order_by(PASSES.c.id)
        )
        return [
            PassSale(
                id=row.id,
                product_id=row.fare_product_id,
                price=int(row.price_amount),
                first_day=service_day(row.valid_from),
                end_day=max(
                    service_day(row.valid_until), service_day(row.valid_from) + timedelta(days=1)
                ),
            )
            for row in rows
        ]

    async def charges_collected(self, day: date) -> int:
        return int(
            await self._session.scalar(
                select(func.count(func.distinct(ATTEMPTS.c.charge_key)))
                .select_from(ATTEMPTS)
                .where(
                    ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
                    ATTEMPTS.c.service_day == day,
                    ATTEMPTS.c.status.in_(COLLECTED_STATUSES),
                )
            )
            or 0
        )

    async def version_weights(self, account_id: str, day: date, version: int) -> dict[str, int]:
        """Undiscounted value per operator of one version's paid (non-pass) legs."""
        rows = await self._session.execute(
            select(LEGS.c.operator_id, func.sum(LEGS.c.undiscounted_amount))
            .where(
                LEGS.c.account_id == account_id,
                LEGS.c.service_day == day,
                LEGS.c.version == version,
                LEGS.c.pass_product_id.is_(None),
            )
            .group_by(LEGS.c.operator_id)
        )
        return {op: int(value) for op, value in rows}

    async def settled_weights(self, account_id: str, day: date) -> dict[str, int]:
        """`version_weights` of the version `day` settled the account-day at."""
        version = await self._session.scalar(
            select(SETTLED.c.version).where(
                SETTLED.c.account_id == account_id, SETTLED.c.service_day == day
            )
        )
        if version is None:
            return {}
        return await self.version_weights(account_id, day, int(version))

    # -- drill-down: one operator's part of a settled day ---------------------------------------

    async def operator_legs(self, day: date, operator: str, limit: int) -> list[OperatorLeg]:
        """The operator's settled legs of `day` (the versions the day counted), by account and
        leg, at most `limit`."""
        legs = self._settled_legs(day).subquery("legs")
        rows = await self._session.execute(
            select(
                legs.c.account_id, legs.c.leg_index, legs.c.route_id, legs.c.from_stop_id,
                legs.c.to_stop_id, legs.c.started_at, legs.c.fare_product_id, legs.c.amount,
                legs.c.undiscounted_amount, legs.c.capped, legs.c.pass_product_id,
            )
            .where(legs.c.operator_id == operator)
            .order_by(legs.c.account_id, legs.c.leg_index)
            .limit(limit)
        )  # fmt: skip
        return [
            OperatorLeg(
                account_id=a, leg_index=i, route_id=r, from_stop=f, to_stop=t, started_at=at,
                fare_product=p, charged=int(c), undiscounted=int(u), capped=bool(cap),
                pass_product=pp,
            )
            for a, i, r, f, t, at, p, c, u, cap, pp in rows
        ]  # fmt: skip

    async def operator_charges(self, day: date, operator: str, limit: int) -> list[DayChargeRow]:
        """The daily charges of `day` of the accounts that rode the operator's routes that day,
        at most `limit`, by account."""
        legs = self._settled_legs(day).subquery("legs")
        riders = select(legs.c.account_id).where(legs.c.operator_id == operator).distinct()
        rows = await self._session.execute(
            select(
                ATTEMPTS.c.id, ATTEMPTS.c.account_id, ATTEMPTS.c.amount, ATTEMPTS.c.currency,
                ATTEMPTS.c.status, ATTEMPTS.c.gateway_payment_id,
            )
            .where(
                ATTEMPTS.c.purpose == PaymentPurpose.DAILY_CHARGE.value,
                ATTEMPTS.c.service_day == day,
                ATTEMPTS.c.account_id.in_(riders),
            )
            .order_by(ATTEMPTS.c.account_id, ATTEMPTS.c.id)
            .limit(limit)
        )  # fmt: skip
        return [
            DayChargeRow(
                attempt_id=i, account_id=a, amount=int(n), currency=c, status=s, gateway_ref=g
            )
            for i, a, n, c, s, g in rows
        ]
