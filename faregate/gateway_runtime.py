"""The payment gateway a command talks to: the configured Stripe-compatible API
(STRIPE_API_KEY, STRIPE_API_BASE) or else a private localstripe whose state lives in
DATA_DIR/localstripe, so `faregate settle` run after `faregate serve` or `faregate demo` on the
same data directory lists the same payments."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateways.localstripe_server import localstripe
from gateways.stripe_gateway import StripeGateway

STRIPE_DEFAULT_BASE = "https://api.stripe.com"


class StripeSettings(Protocol):
    """What connecting to a Stripe-compatible API needs (the API's StripeConfig has it too)."""

    @property
    def api_key(self) -> str: ...

    @property
    def api_base(self) -> str: ...

    @property
    def webhook_secret(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class StripeConfig:
    api_key: str
    api_base: str = STRIPE_DEFAULT_BASE
    webhook_secret: str | None = None


@dataclass(frozen=True, slots=True)
class GatewayRuntime:
    gateway: StripeGateway
    # The secret webhooks are signed with; for a private localstripe nothing sends webhooks,
    # so a random one refuses them all.
    webhook_secret: str
    private: bool


def stripe_from_environment(environ: Mapping[str, str] | None = None) -> StripeConfig | None:
    env = os.environ if environ is None else environ
    api_key = env.get("STRIPE_API_KEY")
    if not api_key:
        return None
    return StripeConfig(
        api_key=api_key,
        api_base=env.get("STRIPE_API_BASE") or STRIPE_DEFAULT_BASE,
        webhook_secret=env.get("STRIPE_WEBHOOK_SECRET") or None,
    )


@contextlib.asynccontextmanager
async def open_gateway(
    data_dir: Path, stripe: StripeSettings | None, *, from_scratch: bool = False
) -> AsyncIterator[GatewayRuntime]:
    """The gateway client, and the private localstripe behind it when `stripe` is None."""
    async with contextlib.AsyncExitStack() as stack:
        if stripe is None:
            server = await stack.enter_async_context(
                localstripe(data_dir / "localstripe", from_scratch=from_scratch)
            )
            api_key, api_base, secret = server.api_key, server.base_url, secrets.token_hex(16)
            private = True
        else:
            api_key, api_base = stripe.api_key, stripe.api_base
            secret = stripe.webhook_secret or secrets.token_hex(16)
            private = False
        gateway = await stack.enter_async_context(StripeGateway(api_key, api_base))
        yield GatewayRuntime(gateway, secret, private)
