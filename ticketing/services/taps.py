"""Use cases of taps: store an uploaded batch (queueing the account-days it touches for the
pricing worker, `ticketing.services.pricing_worker`), and store it then price those days at
once (the demo and tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ticketing.fares.feed import FareFeed
from ticketing.services.pricing import DayPricingResult, FarePricing, account_days
from ticketing.stores.taps import IngestResult
from ticketing.taps import Tap, TapRecord
from ticketing.unit_of_work import UnitOfWork, UnitOfWorkFactory, run_in_uow

PRICING_BATCH = 100  # account-days priced per transaction


@dataclass(frozen=True, slots=True)
class PricingSummary:
    """What pricing some account-days did: first pricings, re-pricings, days left as they were."""

    priced: int = 0
    repriced: int = 0
    unchanged: int = 0

    @classmethod
    def of(cls, results: Iterable[DayPricingResult]) -> PricingSummary:
        priced = repriced = unchanged = 0
        for result in results:
            if not result.changed:
                unchanged += 1
            elif result.version == 1:
                priced += 1
            else:
                repriced += 1
        return cls(priced, repriced, unchanged)

    def __add__(self, other: PricingSummary) -> PricingSummary:
        return PricingSummary(
            self.priced + other.priced,
            self.repriced + other.repriced,
            self.unchanged + other.unchanged,
        )

    @property
    def changed(self) -> int:
        return self.priced + self.repriced


@dataclass(frozen=True, slots=True)
class UploadResult:
    """A batch stored and the days it touched priced."""

    ingest: IngestResult
    pricing: PricingSummary


async def ingest_taps(
    uows: UnitOfWorkFactory, taps: Sequence[TapRecord], *, feed: FareFeed
) -> IngestResult:
    """Store an uploaded batch durably and queue the account-days its new taps can change for
    pricing, in one transaction (the feed says which service days those are). Safe to repeat.
    `taps` are Taps or records validated as Taps are (`ticketing.taps.TapRecord`)."""

    async def ingest(uow: UnitOfWork) -> IngestResult:
        result = await uow.taps.ingest(taps)
        if result.inserted:
            await uow.pricing_queue.mark(account_days(feed, taps))
        return result

    return await run_in_uow(uows, ingest)


async def price_account_days(
    uows: UnitOfWorkFactory,
    feed: FareFeed,
    keys: Iterable[tuple[str, date]],
    *,
    batch: int = PRICING_BATCH,
) -> PricingSummary:
    """Price account-days from their stored taps, `batch` days per transaction, re-pricing
    (reversal and new posting) those whose price changed."""
    ordered = sorted(set(keys))
    summary = PricingSummary()
    for start in range(0, len(ordered), batch):
        chunk = ordered[start : start + batch]

        async def price(uow: UnitOfWork, chunk: list[tuple[str, date]] = chunk) -> PricingSummary:
            await uow.pricing_queue.remove(chunk)  # queue rows first, as the worker locks them
            return PricingSummary.of(await FarePricing(uow, feed).price_days(chunk))

        summary += await run_in_uow(uows, price)
    return summary


async def ingest_and_price(
    uows: UnitOfWorkFactory, feed: FareFeed, taps: Sequence[Tap]
) -> UploadResult:
    """Store a device's upload, then price every account-day its taps can change (and take
    them off the pricing queue)."""
    ingest = await ingest_taps(uows, taps, feed=feed)
    keys = account_days(feed, taps)
    pricing = await price_account_days(uows, feed, keys)
    return UploadResult(ingest, pricing)
