"""SQLite's one write lock, taken by every transaction (`BEGIN IMMEDIATE`): a process's
transactions take their turns in the order they asked, so a task that ends a transaction and
begins another at once (a pricing worker's loop) does not keep a waiting request out."""

from __future__ import annotations

import asyncio

import pytest

from ticketing.unit_of_work import UnitOfWorkFactory


@pytest.mark.parametrize("db_backend", ["sqlite"])
async def test_a_transaction_that_waited_goes_before_the_holders_next_one(
    uow_factory: UnitOfWorkFactory,
) -> None:
    order: list[str] = []
    asking = asyncio.Event()

    async def waiter() -> None:
        async with uow_factory() as uow:
            asking.set()  # from here to waiting for the lock there is no turn of the loop
            await uow.pricing_queue.count()
            order.append("waiter")

    async with uow_factory() as holder:
        await holder.pricing_queue.count()  # its transaction holds the lock
        task = asyncio.create_task(waiter())
        await asyncio.wait_for(asking.wait(), timeout=30)
        await holder.commit()
    async with uow_factory() as again:
        await again.pricing_queue.count()
        order.append("holder again")
    await asyncio.wait_for(task, timeout=30)
    assert order == ["waiter", "holder again"]
