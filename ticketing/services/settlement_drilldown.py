"""Use case: an operator's figure of a settled day drilled down to its pools, legs and charges
(issue 19; the finance API's `GET /api/v1/finance/settlements/{day}/operators/{operator}` and
the finance page's operator link).

The pools are recomputed from the day's settled inputs (the versions the day pinned, the
reconcile stage's stored figures): the same pure computation as the run's, so the shares add
up to the statement's revenue. That reads the whole day once per call; the legs and charges are
read for the operator alone, `limit` of each.
"""

from __future__ import annotations

from datetime import date

from ticketing.services.settlement_days import settled_figures
from ticketing.services.settlement_inputs import gather_inputs
from ticketing.services.settlement_reconcile import reconciled
from ticketing.settlement.compute import settle_day
from ticketing.settlement.drilldown import OperatorDrilldown, operator_shares
from ticketing.unit_of_work import UnitOfWorkFactory

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


async def operator_drilldown(
    uows: UnitOfWorkFactory, day: date, operator: str, *, limit: int = DEFAULT_LIMIT
) -> OperatorDrilldown:
    """`operator`'s part of settled `day` (DayNotSettled before it is settled)."""
    figures = await settled_figures(uows, day)
    settled = settle_day(await gather_inputs(uows, day, await reconciled(uows, day), dry_run=False))
    shares = operator_shares(settled.pools, operator)
    async with uows() as uow:
        legs = await uow.settlement_day.operator_legs(day, operator, limit)
        charges = await uow.settlement_day.operator_charges(day, operator, limit)
    return OperatorDrilldown(
        day=day,
        operator=operator,
        currency=str(figures.figures["currency"]),
        apportioned=sum(s.share for s in shares),
        pools_count=len(shares),
        pools=tuple(shares[:limit]),
        legs=tuple(legs),
        charges=tuple(charges),
    )
