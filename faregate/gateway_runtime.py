"""The payment gateway a process talks to, chosen by configuration.

`FAREGATE_GATEWAY` names the kind (default `stripe`); each kind reads its own settings from the
environment and opens a `gateways.protocol.Gateway`, the only thing the use cases see, under the
name that keys its ledger clearing account (`gateway:{name}:clearing`):

- `stripe`: the Stripe-compatible API at STRIPE_API_KEY / STRIPE_API_BASE, whose webhooks are
  signed with STRIPE_WEBHOOK_SECRET; without STRIPE_API_KEY, a private localstripe whose state
  lives in DATA_DIR/localstripe. One localstripe per data directory: `faregate settle` run while
  `faregate serve` runs on the same directory reuses the server's, and one run after it resumes
  its state, so both list the same payments.

Callers open `gateway_from_environment().open(data_dir)`. A new gateway is an adapter
implementing the protocol (in `gateways/`), a config class with `name` and `open`, and one
entry in `GATEWAY_KINDS`; no use case changes.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from faregate.errors import GatewayConfigError
from gateways.localstripe_server import localstripe
from gateways.protocol import Gateway
from gateways.stripe_gateway import StripeGateway
from gateways.vnpay import SANDBOX_API_URL, SANDBOX_PAY_URL, VNPayConfig

GATEWAY_KIND_VARIABLE = "FAREGATE_GATEWAY"
STRIPE_DEFAULT_BASE = "https://api.stripe.com"
STRIPE = "stripe"


@dataclass(frozen=True, slots=True)
class GatewayRuntime:
    """An open gateway, the name of its clearing account, and the secret its webhooks are
    signed with (for a private gateway nothing sends webhooks, so a random one refuses all)."""

    name: str
    gateway: Gateway
    webhook_secret: str
    private: bool


class GatewayConfig(Protocol):
    """A configured gateway: its name and how to open it for a data directory."""

    @property
    def name(self) -> str: ...

    def open(self, data_dir: Path) -> AbstractAsyncContextManager[GatewayRuntime]: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StripeConfig:
    """A Stripe-compatible API to charge through, and the secret its webhooks are signed with."""

    api_key: str
    api_base: str = STRIPE_DEFAULT_BASE
    webhook_secret: str | None = None
    name: str = STRIPE

    @contextlib.asynccontextmanager
    async def open(self, data_dir: Path) -> AsyncIterator[GatewayRuntime]:
        async with StripeGateway(self.api_key, self.api_base) as gateway:
            secret = self.webhook_secret or secrets.token_hex(16)
            yield GatewayRuntime(self.name, gateway, secret, private=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivateStripeConfig:
    """A private localstripe in DATA_DIR/localstripe, or the one another process runs there.
    `from_scratch`: forget the state an earlier run left (refused while one runs)."""

    from_scratch: bool = False
    name: str = STRIPE

    @contextlib.asynccontextmanager
    async def open(self, data_dir: Path) -> AsyncIterator[GatewayRuntime]:
        state_dir = data_dir / "localstripe"
        async with (
            localstripe(state_dir, from_scratch=self.from_scratch) as server,
            StripeGateway(server.api_key, server.base_url) as gateway,
        ):
            yield GatewayRuntime(self.name, gateway, secrets.token_hex(16), private=True)


def _stripe(env: Mapping[str, str], webhooks: bool) -> GatewayConfig:
    api_key = env.get("STRIPE_API_KEY")
    if not api_key:
        return PrivateStripeConfig()
    secret = env.get("STRIPE_WEBHOOK_SECRET") or None
    if webhooks and secret is None:
        raise GatewayConfigError("STRIPE_API_KEY is set but STRIPE_WEBHOOK_SECRET is not")
    return StripeConfig(
        api_key=api_key,
        api_base=env.get("STRIPE_API_BASE") or STRIPE_DEFAULT_BASE,
        webhook_secret=secret,
    )


# Each kind of gateway and how it reads its settings from the environment (and whether the
# caller receives its webhooks, so needs their secret).
GATEWAY_KINDS: Mapping[str, Callable[[Mapping[str, str], bool], GatewayConfig]] = {STRIPE: _stripe}


VNPAY_VARIABLES = ("VNPAY_TMN_CODE", "VNPAY_HASH_SECRET")


def vnpay_from_environment(environ: Mapping[str, str] | None = None) -> VNPayConfig | None:
    """VNPay top-ups, beside the card gateway: the terminal's VNPAY_TMN_CODE and
    VNPAY_HASH_SECRET (neither: not offered), VNPAY_PAY_URL and VNPAY_API_URL (the merchant
    web API settlement's reconciliation queries; both default to VNPay's sandbox) and
    VNPAY_RETURN_URL (default: back to the passenger page of the server the rider used)."""
    env = os.environ if environ is None else environ
    code, secret = (env.get(name, "") for name in VNPAY_VARIABLES)
    if not code and not secret:
        return None
    if not (code and secret):
        raise GatewayConfigError("set both VNPAY_TMN_CODE and VNPAY_HASH_SECRET, or neither")
    return VNPayConfig(
        code,
        secret,
        return_url=env.get("VNPAY_RETURN_URL", ""),
        pay_url=env.get("VNPAY_PAY_URL") or SANDBOX_PAY_URL,
        api_url=env.get("VNPAY_API_URL") or SANDBOX_API_URL,
    )


def gateway_from_environment(
    environ: Mapping[str, str] | None = None, *, webhooks: bool = False
) -> GatewayConfig:
    """The gateway `FAREGATE_GATEWAY` names, configured from the environment. `webhooks`: the
    caller receives the gateway's webhooks, so it needs their secret."""
    env = os.environ if environ is None else environ
    kind = env.get(GATEWAY_KIND_VARIABLE) or STRIPE
    reader = GATEWAY_KINDS.get(kind)
    if reader is None:
        known = ", ".join(sorted(GATEWAY_KINDS))
        raise GatewayConfigError(f"{GATEWAY_KIND_VARIABLE}={kind!r} is not a gateway ({known})")
    return reader(env, webhooks)
