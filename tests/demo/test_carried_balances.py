"""The demo's wallets of earlier days (`faregate.demo.riders`): seeded balances for the prepaid
riders who saved their card before the day, none for those new to paying; on the day only
the wallets that would not cover it are topped up, the new riders' all among them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from faregate.demo.riders import (
    LOW_BALANCE,
    carried_balances,
    plan_riders,
    saving_cards_on_the_day,
    topping_up,
)
from faregate_data import HANOI_FEED
from simulators.network import load_routes
from ticketing.fares.feed import load_feed
from ticketing.riders import PaymentMode

START = datetime(2026, 11, 24, 6, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
TOP_UP = 300_000


def test_only_wallets_that_would_not_cover_the_day_are_topped_up() -> None:
    feed = load_feed(HANOI_FEED)
    riders = plan_riders(feed, load_routes(HANOI_FEED), 1000, START, seed=7)
    carried = carried_balances(riders, top_up=TOP_UP, seed=7)
    assert carried == carried_balances(riders, top_up=TOP_UP, seed=7)  # the seed decides
    assert carried != carried_balances(riders, top_up=TOP_UP, seed=8)
    prepaid = {r.account_id: r for r in riders if r.payment_mode is PaymentMode.PREPAID_WALLET}
    new = {r.account_id for r in saving_cards_on_the_day(riders)}
    assert set(carried) <= set(prepaid) - new
    assert all(0 < amount <= TOP_UP and amount % 1000 == 0 for amount in carried.values())

    short = topping_up(feed, riders, carried)
    assert short <= set(prepaid)
    assert set(prepaid) & new <= short  # the new riders hold nothing: all top up
    for account, amount in carried.items():
        pass_product = prepaid[account].pass_product
        price = 0 if pass_product is None else feed.amount_of(pass_product, "regular", None)
        assert (account in short) == (amount < LOW_BALANCE + (price or 0))
    # About one in five of the wallets of earlier days runs low on a given day.
    earlier = set(prepaid) - new
    assert 0.1 < len(short & earlier) / len(earlier) < 0.35
