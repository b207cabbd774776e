"""Benchmark: the CPU of reading the gateway's payments, per payment listed (issue 20).

Starts a private localstripe (the shared helper) and grows its store to each size of
`--payments` (daily-charge-like payments of one card, every tenth partly refunded). At each
size, `--rounds` times, lists every payment twice, alternating which goes first:

- `adapter`: `StripeGateway.list_payments` over the whole period, as settlement and the demo's
  closing figures read it (pages as raw JSON, mapped to `gateways.protocol.Payment`);
- `sdk_objects`: the same pages through the SDK's `list_async` and `to_dict()` of each
  StripeObject, unmapped: what the adapter's listing cost per page before it read raw JSON,
  less the mapping (a lower bound of the old cost), side by side on the same server.

Reports, per side, the median of this process's CPU microseconds per payment listed and
localstripe's (read from /proc: the server pages by scanning its whole store, so its share
grows with the store). Prints JSON, then one summary line. CPU, not wall time: the machine
is shared.

    python bench/gateway_listing.py [--payments 1000,4000] [--rounds 3] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pricing import cpu_seconds_of
from stripe.params import PaymentIntentListParams

from gateways.localstripe_server import LocalStripe, localstripe
from gateways.protocol import PaymentRequest
from gateways.stripe_gateway import StripeGateway

EVER = datetime(2000, 1, 1, tzinfo=UTC)
PAGE = 100  # the adapter's page size (Stripe's largest)


async def grow(
    gateway: StripeGateway, customer: tuple[str, str], have: int, want: int, n: int
) -> None:
    """Make payments until the store holds `want`, at most `n` requests in flight."""
    customer_id, card_id = customer
    slots = asyncio.Semaphore(n)

    async def pay(i: int) -> None:
        async with slots:
            payment = await gateway.create_payment(
                PaymentRequest(
                    customer_id=customer_id,
                    payment_method_id=card_id,
                    amount=10_000 + i,
                    currency="VND",
                    idempotency_key=f"bench:{uuid.uuid4().hex}",
                    metadata={"faregate_charge_key": f"charge:bench:{i}"},
                    off_session=True,
                )
            )
            if i % 10 == 0:
                await gateway.refund(payment.id, amount=1_000, idempotency_key=uuid.uuid4().hex)

    await asyncio.gather(*(pay(i) for i in range(have, want)))


async def sdk_objects(gateway: StripeGateway) -> int:
    """Page through the payments with the SDK's objects, as the adapter did (`to_dict` each)."""
    params: PaymentIntentListParams = {"limit": PAGE, "expand": ["data.latest_charge"]}
    listed = 0
    while True:
        page = await gateway._client.v1.payment_intents.list_async(params=params)
        items = [item.to_dict() for item in page.data]
        listed += len(items)
        if not page.has_more or not items:
            return listed
        params["starting_after"] = items[-1]["id"]


async def adapter(gateway: StripeGateway) -> int:
    return len(await gateway.list_payments(EVER, None))


async def measure(server: LocalStripe, side: Callable[[], Awaitable[int]]) -> dict[str, float]:
    cpu, server_cpu, wall = time.process_time(), cpu_seconds_of(server.pid), time.perf_counter()
    listed = await side()
    cpu, server_cpu = time.process_time() - cpu, cpu_seconds_of(server.pid) - server_cpu
    return {
        "listed": listed,
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_us_per_payment": round(cpu * 1e6 / listed, 1),
        "localstripe_cpu_us_per_payment": round(server_cpu * 1e6 / listed, 1),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = sorted(int(s) for s in args.payments.split(","))
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-listing-") as tmp:
        async with (
            localstripe(Path(tmp), from_scratch=True) as server,
            StripeGateway(server.api_key, server.base_url, timeout=120) as gateway,
        ):
            made = await gateway.create_customer("bench", idempotency_key="bench")
            card = await gateway.save_card(made.id, "pm_card_visa", idempotency_key="card")
            have = 0
            for size in sizes:
                await grow(gateway, (made.id, card.id), have, size, args.concurrency)
                have = size
                sides = {
                    "adapter": lambda: adapter(gateway),
                    "sdk_objects": lambda: sdk_objects(gateway),
                }
                runs: dict[str, list[dict[str, float]]] = {name: [] for name in sides}
                for round_ in range(args.rounds):
                    order = list(sides) if round_ % 2 == 0 else list(reversed(sides))
                    for name in order:
                        runs[name].append(await measure(server, sides[name]))
                row: dict[str, Any] = {"payments": size}
                for name, figures in runs.items():
                    row[name] = {
                        key: statistics.median(f[key] for f in figures) for key in figures[0]
                    }
                row["cpu_ratio"] = round(
                    row["adapter"]["cpu_us_per_payment"] / row["sdk_objects"]["cpu_us_per_payment"],
                    3,
                )
                print(f"  {size} payments: {json.dumps(row)}", file=sys.stderr, flush=True)
                results.append(row)
    return {"rounds": args.rounds, "sizes": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", default="1000,4000", help="store sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=16, help="requests while growing")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2))
    last = result["sizes"][-1]
    print(
        f"{last['payments']} payments listed: adapter "
        f"{last['adapter']['cpu_us_per_payment']} us CPU/payment, SDK objects "
        f"{last['sdk_objects']['cpu_us_per_payment']} us (ratio {last['cpu_ratio']}); "
        f"localstripe {last['adapter']['localstripe_cpu_us_per_payment']} us/payment"
    )


if __name__ == "__main__":
    main()
