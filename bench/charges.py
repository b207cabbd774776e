"""Benchmark: the daily aggregated charge of N postpaid accounts against localstripe.

Starts a private localstripe (the shared helper), gives N accounts a customer and a saved card,
then charges each account's day once, at most `--concurrency` charges in flight
(asyncio.Semaphore). A sequential run over a few accounts in the same process is the baseline.

Reports charges/s, the speed-up over the sequential baseline, latency percentiles, and the
share of each charge's own time spent inside the gateway call (the rest is our code; waiting
for a semaphore slot is not counted). Prints JSON, then one summary line.

    python bench/charges.py --accounts 500 --concurrency 16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateways.localstripe_server import localstripe
from gateways.protocol import PaymentRequest, PaymentStatus
from gateways.stripe_gateway import StripeGateway

SERVICE_DAY = "2025-03-14"
DAILY_AMOUNT_VND = 27_000


@dataclass(frozen=True, slots=True)
class Account:
    ref: str
    customer_id: str
    card_id: str


@dataclass(frozen=True, slots=True)
class ChargeTiming:
    total: float
    in_gateway: float
    succeeded: bool


async def _enrol(gateway: StripeGateway, count: int, concurrency: int) -> list[Account]:
    slots = asyncio.Semaphore(concurrency)

    async def enrol(index: int) -> Account:
        ref = f"acct-{index:06d}"
        async with slots:
            customer = await gateway.create_customer(ref, idempotency_key=f"customer:{ref}")
            card = await gateway.save_card(
                customer.id, "pm_card_visa", idempotency_key=f"card:{ref}"
            )
        return Account(ref, customer.id, card.id)

    return list(await asyncio.gather(*(enrol(i) for i in range(count))))


async def _charge_day(gateway: StripeGateway, account: Account, day: str) -> ChargeTiming:
    started = time.perf_counter()
    request = PaymentRequest(
        customer_id=account.customer_id,
        payment_method_id=account.card_id,
        amount=DAILY_AMOUNT_VND,
        currency="VND",
        idempotency_key=f"charge:{account.ref}:{day}",
        metadata={"account": account.ref, "service_day": day},
        off_session=True,
    )
    call_started = time.perf_counter()
    payment = await gateway.create_payment(request)
    in_gateway = time.perf_counter() - call_started
    return ChargeTiming(
        time.perf_counter() - started, in_gateway, payment.status is PaymentStatus.SUCCEEDED
    )


async def _run(
    gateway: StripeGateway, accounts: Sequence[Account], day: str, concurrency: int
) -> tuple[float, list[ChargeTiming]]:
    slots = asyncio.Semaphore(concurrency)

    async def charge(account: Account) -> ChargeTiming:
        async with slots:
            return await _charge_day(gateway, account, day)

    started = time.perf_counter()
    timings = await asyncio.gather(*(charge(a) for a in accounts))
    return time.perf_counter() - started, list(timings)


def _summary(wall: float, timings: Sequence[ChargeTiming]) -> dict[str, Any]:
    totals = sorted(t.total for t in timings)
    inside = sum(t.in_gateway for t in timings)
    return {
        "charges": len(timings),
        "succeeded": sum(t.succeeded for t in timings),
        "wall_s": round(wall, 3),
        "charges_per_s": round(len(timings) / wall, 1),
        "p50_ms": round(statistics.median(totals) * 1000, 2),
        "p99_ms": round(totals[min(len(totals) - 1, int(len(totals) * 0.99))] * 1000, 2),
        "gateway_share": round(inside / sum(totals), 4),
    }


async def bench(accounts: int, concurrency: int, baseline: int, state_dir: Path) -> dict[str, Any]:
    async with (
        localstripe(state_dir, from_scratch=True) as server,
        StripeGateway(server.api_key, server.base_url, timeout=30) as gateway,
    ):
        enrol_started = time.perf_counter()
        enrolled = await _enrol(gateway, accounts, concurrency)
        enrol_wall = time.perf_counter() - enrol_started
        base_wall, base_timings = await _run(gateway, enrolled[:baseline], "baseline", 1)
        wall, timings = await _run(gateway, enrolled, SERVICE_DAY, concurrency)
    sequential = _summary(base_wall, base_timings)
    concurrent = _summary(wall, timings)
    return {
        "benchmark": "charges",
        "gateway": "localstripe",
        "accounts": accounts,
        "concurrency": concurrency,
        "enrol_s": round(enrol_wall, 3),
        "sequential_baseline": sequential,
        "concurrent": concurrent,
        "speedup_vs_sequential": round(
            concurrent["charges_per_s"] / sequential["charges_per_s"], 2
        ),
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--baseline", type=int, default=50, help="accounts charged sequentially")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="faregate-bench-charges-") as state_dir:
        result = asyncio.run(
            bench(
                args.accounts, args.concurrency, min(args.baseline, args.accounts), Path(state_dir)
            )
        )
    print(json.dumps(result, indent=2))
    c = result["concurrent"]
    print(
        f"charges: {c['charges_per_s']} charges/s over {c['charges']} accounts "
        f"(concurrency {args.concurrency}, {result['speedup_vs_sequential']}x sequential), "
        f"p99 {c['p99_ms']} ms, {c['gateway_share']:.0%} of charge time inside the gateway call"
    )


if __name__ == "__main__":
    main()
