"""The payment gateway chosen by configuration (`faregate.gateway_runtime`): which one each
environment gives, and the refusals."""

from __future__ import annotations

import pytest

from faregate.errors import GatewayConfigError
from faregate.gateway_runtime import (
    STRIPE_DEFAULT_BASE,
    PrivateStripeConfig,
    StripeConfig,
    gateway_from_environment,
    vnpay_from_environment,
)


def test_no_settings_is_the_private_localstripe_of_the_data_directory() -> None:
    assert gateway_from_environment({}) == PrivateStripeConfig()
    assert gateway_from_environment({"FAREGATE_GATEWAY": "stripe"}, webhooks=True).name == "stripe"


def test_a_stripe_key_is_that_api() -> None:
    env = {"STRIPE_API_KEY": "sk_test_x", "STRIPE_WEBHOOK_SECRET": "whsec_x"}
    assert gateway_from_environment(env, webhooks=True) == StripeConfig(
        api_key="sk_test_x", api_base=STRIPE_DEFAULT_BASE, webhook_secret="whsec_x"
    )
    based = gateway_from_environment(env | {"STRIPE_API_BASE": "http://127.0.0.1:9"})
    assert isinstance(based, StripeConfig)
    assert based.api_base == "http://127.0.0.1:9"


def test_a_server_needs_the_webhook_secret_a_command_does_not() -> None:
    env = {"STRIPE_API_KEY": "sk_test_x"}
    assert gateway_from_environment(env) == StripeConfig(api_key="sk_test_x")
    with pytest.raises(GatewayConfigError, match="STRIPE_WEBHOOK_SECRET is not"):
        gateway_from_environment(env, webhooks=True)


def test_an_unknown_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(
        GatewayConfigError, match=r"FAREGATE_GATEWAY='vnpay' is not a gateway \(stripe\)"
    ):
        gateway_from_environment({"FAREGATE_GATEWAY": "vnpay"})


def test_vnpay_is_configured_from_the_environment_or_not_at_all() -> None:
    assert vnpay_from_environment({}) is None
    config = vnpay_from_environment({"VNPAY_TMN_CODE": "FAREGATE", "VNPAY_HASH_SECRET": "s"})
    assert config is not None
    assert (config.tmn_code, config.return_url) == ("FAREGATE", "")
    assert config.pay_url.startswith("https://sandbox.vnpayment.vn/")
    with pytest.raises(GatewayConfigError, match="VNPAY_TMN_CODE and VNPAY_HASH_SECRET"):
        vnpay_from_environment({"VNPAY_TMN_CODE": "FAREGATE"})
