"""The demo's card gateway behind a fault proxy: 500s, timeouts and declined cards.

The demo's localstripe runs in the data directory (`DATA_DIR/localstripe`, where `faregate
serve` and `faregate settle` look for their private gateway, so both find its payments
afterwards), and `python -m simulators.fault_proxy` in front of it strikes the share of payment
requests each gateway fault's dose says, drawn by idempotency key from the demo's seed. The
backend is pointed at the proxy (`environment`). The proxy strikes while the phones pay in the
morning and is switched off at run time after, so the day's settlement charges meet the
gateway as it is; what it struck is recorded as the day's strikes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from gateways.localstripe_server import localstripe
from simulators.fault_proxy import FaultRates, RunningProxy, running_fault_proxy
from simulators.faults import FaultKind, Faults

# How long a drawn timeout holds the gateway's answer: past the backend gateway client's 10 s.
HOLD_SECONDS = 12.0

HANDLED = {
    FaultKind.GATEWAY_500: "the payments layer found no payment at the gateway; the phone "
    "retried the same request (502: safe to retry) and it was charged once",
    FaultKind.GATEWAY_TIMEOUT: "the payments layer looked the payment up before trying again; "
    "the phone's retry found it charged, once",
    FaultKind.CARD_DECLINED: "the top-up or pass sale refused with 402 card-declined; nothing "
    "posted, the rider rides on what the account holds",
}


@dataclass
class DemoGateway:
    """The variables that point the backend at the proxy (none when no gateway fault is on),
    and the proxy."""

    environment: dict[str, str] = field(default_factory=dict)
    proxy: RunningProxy | None = None

    async def stop_striking(self, faults: Faults, at: datetime) -> None:
        """Switch the proxy's faults off and record what it struck as the day's strikes."""
        if self.proxy is None:
            return
        proxy = self.proxy
        await asyncio.to_thread(proxy.set_rates, FaultRates())
        for kind, count in (await asyncio.to_thread(proxy.counts)).items():
            for _ in range(count):
                faults.struck(
                    kind, "a payment request of a phone, at the gateway", HANDLED[kind], at
                )


@contextlib.asynccontextmanager
async def demo_gateway(data_dir: Path, faults: Faults, *, seed: int) -> AsyncIterator[DemoGateway]:
    """The data directory's localstripe behind the fault proxy while the block runs."""
    rates = FaultRates(
        error_500=faults.dose(FaultKind.GATEWAY_500),
        timeout=faults.dose(FaultKind.GATEWAY_TIMEOUT),
        decline=faults.dose(FaultKind.CARD_DECLINED),
    )
    if rates == FaultRates():
        yield DemoGateway()
        return
    async with localstripe(data_dir / "localstripe") as server:
        with contextlib.ExitStack() as stack:
            proxy = await asyncio.to_thread(
                stack.enter_context,
                running_fault_proxy(server.base_url, rates=rates, seed=seed, hold=HOLD_SECONDS),
            )
            yield DemoGateway(
                {
                    "STRIPE_API_KEY": server.api_key,
                    "STRIPE_API_BASE": proxy.url,
                    "STRIPE_WEBHOOK_SECRET": f"whsec_demo_{secrets.token_hex(8)}",
                },
                proxy,
            )
