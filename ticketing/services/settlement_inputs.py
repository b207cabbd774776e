"""Gathering a service day's `DayInputs` for `ticketing.settlement.compute.settle_day`: the
day's read model (`uow.settlement_day`), settlement's own records (adjustments, recovered
days, duplicates handled), the ledger's balances (`uow.reconciliation`) and what the reconcile
stage found. All reads, in one transaction.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ticketing.fares.feed import FareFeed
from ticketing.services.journal import feed_places
from ticketing.services.settlement_reconcile import Reconciled, handled_duplicates
from ticketing.settlement.apportion import PASS_USE_WEEKS
from ticketing.settlement.calendar import day_window
from ticketing.settlement.compute import DayInputs, RecoveredDay, RecoveredParking
from ticketing.settlement.shared_codes import SharedCode, shared_codes
from ticketing.settlement.states import ExceptionKind
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory

DEFAULT_CURRENCY = "VND"  # the currency of a day with no priced fares


async def gather_inputs(
    uows: UnitOfWorkFactory,
    day: date,
    reconciled: Reconciled,
    *,
    dry_run: bool,
    feed: FareFeed | None = None,
) -> DayInputs:
    """The inputs of `day`'s settlement. A dry run counts the latest version of each
    account-day as it stands (pinned in a transaction rolled back), takes no adjustments, and
    takes the suspense the reconciliation would post instead of what the ledger holds."""
    start, end = day_window(day)
    async with uows() as uow:
        reads, records = uow.settlement_day, uow.settlement
        if dry_run:
            await records.record_settled_versions(day)
        account_days, fares_priced, currency = await reads.day_totals(day)
        pass_sales = await reads.passes_valid(start, end)
        products = {sale.product_id for sale in pass_sales}
        adjustments = [] if dry_run else await records.adjustments_of(day)
        # Uncollected fares and parking of earlier days collected since: those the run of
        # `day` resolved (or, in a dry run, would resolve).
        recovered, parked = [
            await (
                records.collected_since(kind, day) if dry_run else records.resolved_on(kind, day)
            )
            for kind in (ExceptionKind.UNCOLLECTED, ExceptionKind.UNCOLLECTED_PARKING)
        ]
        inputs = DayInputs(
            day=day,
            currency=currency or DEFAULT_CURRENCY,
            taps=await reads.tap_count(start, end),
            account_days=account_days,
            fares_priced=fares_priced,
            uncollected=await reads.uncollected_days(day),
            single_fares=await reads.single_fares(day),
            pooled_rides=await reads.pooled_rides(day),
            rides=await reads.rides_by_operator(day),
            pass_rides=await reads.pass_rides(day),
            pass_sales=pass_sales,
            recent_pass_rides=await reads.recent_pass_rides(day, products, weeks=PASS_USE_WEEKS),
            pass_operators={
                p: feed.pass_operators(p) if feed is not None else frozenset() for p in products
            },
            all_operators=feed.operators() if feed is not None else frozenset(),
            receivable_fares={a: m.amount for a, m in (await reads.receivable_fares(day)).items()},
            day_charges=await reads.day_charges(day),
            parking_uncollected=await reads.parking_uncollected(day, start, end),
            parking=await reads.parking_fees(start, end),
            fares_by_hour=await reads.charges_by_hour(day),
            parking_by_hour=await reads.parking_fees_by_hour(start, end),
            unpriced=await reads.unpriced_legs(day),
            charges=await reads.charges_collected(day),
            adjustments=[
                replace(
                    a,
                    weights=await reads.version_weights(a.account_id, a.original_day, a.version),
                )
                for a in adjustments
            ],
            recovered=[
                RecoveredDay(
                    account_id=e.detail["account"],
                    record_day=e.record_day,
                    amount=e.amount,
                    currency=e.currency,
                    weights=await reads.settled_weights(e.detail["account"], e.record_day),
                )
                for e in recovered
            ],
            parking_recovered=[
                RecoveredParking(
                    account_id=e.detail["account"],
                    operator_id=e.detail["operator"],
                    record_day=e.record_day,
                    amount=e.amount,
                    currency=e.currency,
                )
                for e in parked
            ],
            trial_balance=await uow.reconciliation.trial_balance(),
            suspense_posted=(
                sum(move.amount for move in reconciled.moves)
                if dry_run
                else await uow.reconciliation.suspense_posted(day)
            ),
            duplicates_handled=len(await handled_duplicates(uow, day)),
            reconciliation=reconciled.figures,
            open_exceptions=reconciled.open,
            shared_codes=await day_shared_codes(uow, day, feed),
        )
        if dry_run:
            await uow.rollback()  # the pinned versions were only for this computation
    return inputs


async def day_shared_codes(uow: UnitOfWork, day: date, feed: FareFeed | None) -> list[SharedCode]:
    """The codes of `day` accepted at two or more gates of one station (`shared_codes`), among
    the taps stored when the day was closed (all of them for a day not closed yet, a dry run):
    the same list whichever stage asks. Without a feed each stop is its own station."""
    record = await uow.settlement.day(day)
    taps = await uow.settlement_day.repeated_steps(
        *day_window(day), up_to=None if record is None else record.tap_watermark
    )
    return shared_codes(taps, {} if feed is None else feed_places(feed).station_of)
