"""The `Gateway` adapter for Stripe and Stripe-compatible servers (localstripe in tests and demo).

Uses the official SDK's async methods over `stripe.HTTPXClient`, with a configurable API base.
The SDK's own network retries are off: our callers decide when to retry, after looking up what
the gateway already has. SDK errors become `gateways.errors` types; answers are read
defensively, because localstripe and Stripe differ in which fields they expand.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any, NoReturn, Self

import httpx
import stripe
from stripe.params import CustomerCreateParams

from gateways.errors import (
    CardDeclined,
    GatewayAuthError,
    GatewayConnectionLost,
    GatewayError,
    GatewayNotFound,
    GatewayProtocolError,
    GatewayRequestRejected,
    GatewayTimeout,
    GatewayUnavailable,
)
from gateways.protocol import (
    ACCOUNT_METADATA_KEY,
    CHARGE_KEY_METADATA_KEY,
    IDEMPOTENCY_METADATA_KEY,
    BalanceTransaction,
    GatewayCustomer,
    GatewayFee,
    Payment,
    PaymentRequest,
    PaymentStatus,
    Refund,
    RefundStatus,
    SavedCard,
    oldest_first,
)
from gateways.stripe_amounts import from_stripe_amount, to_stripe_amount

_LIST_PAGE_SIZE = 100
# Seconds to wait for an answer, unless told otherwise.
DEFAULT_TIMEOUT = 10.0


class StripeGateway:
    """`gateways.protocol.Gateway` over the Stripe API (or localstripe at `api_base`).

    `server_filters_created`: let the server apply the `created` range of the reconciliation
    listings (real Stripe does). Off by default because localstripe refuses the filter; the
    adapter then pages through everything and keeps the period itself. `http_client`: the
    SDK's client to send requests with instead of one with `timeout` (the fault tests give one
    that times out exactly the requests their fault proxy holds).
    """

    def __init__(
        self,
        api_key: str,
        api_base: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        server_filters_created: bool = False,
        http_client: stripe.HTTPXClient | None = None,
    ) -> None:
        self._server_filters_created = server_filters_created
        self._http = http_client or stripe.HTTPXClient(timeout=timeout)
        self._client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base},
            http_client=self._http,
            max_network_retries=0,
        )

    async def aclose(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # SDK lacks hints

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- customers and cards -----------------------------------------------------------------

    async def create_customer(
        self, account_ref: str, *, idempotency_key: str, email: str | None = None
    ) -> GatewayCustomer:
        metadata = {ACCOUNT_METADATA_KEY: account_ref, IDEMPOTENCY_METADATA_KEY: idempotency_key}
        params: CustomerCreateParams = {"metadata": metadata}
        if email is not None:
            params["email"] = email
        try:
            customer = await self._client.v1.customers.create_async(
                params=params, options={"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as error:
            _raise_translated(error)
        return GatewayCustomer(id=_str(customer.to_dict(), "id"), account_ref=account_ref)

    async def find_customer(self, account_ref: str) -> GatewayCustomer | None:
        found = [
            customer
            async for customer in self._list("customers")
            if _metadata(customer).get(ACCOUNT_METADATA_KEY) == account_ref
        ]
        if not found:
            return None
        oldest = min(found, key=lambda customer: (_int(customer, "created"), _str(customer, "id")))
        return GatewayCustomer(id=_str(oldest, "id"), account_ref=account_ref)

    async def save_card(
        self, customer_id: str, payment_method: str, *, idempotency_key: str
    ) -> SavedCard:
        try:
            attached = await self._client.v1.payment_methods.attach_async(
                payment_method,
                params={"customer": customer_id},
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:  # a refused card becomes CardDeclined
            _raise_translated(error)
        return _saved_card(attached.to_dict())

    # -- payments ----------------------------------------------------------------------------

    async def create_payment(self, request: PaymentRequest) -> Payment:
        metadata = {**request.metadata, IDEMPOTENCY_METADATA_KEY: request.idempotency_key}
        params: dict[str, Any] = {
            "amount": to_stripe_amount(request.amount, request.currency),
            "currency": request.currency.lower(),
            "customer": request.customer_id,
            "payment_method": request.payment_method_id,
            "payment_method_types": ["card"],
            "metadata": metadata,
            "confirm": True,
        }
        if request.off_session:
            params["off_session"] = True
        if request.capture_manually:
            params["capture_method"] = "manual"
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]  # built above from typed fields
                options={"idempotency_key": request.idempotency_key},
            )
        except stripe.CardError as error:
            payment_id = await self._declined_payment_id(error)
            raise _card_declined(error, payment_id=payment_id) from error
        except stripe.StripeError as error:
            _raise_translated(error)
        return _payment(intent.to_dict())

    async def retrieve_payment(self, payment_id: str) -> Payment:
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(
                payment_id, params={"expand": ["latest_charge"]}
            )
        except stripe.StripeError as error:
            _raise_translated(error)
        return _payment(intent.to_dict())

    async def capture_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        try:
            intent = await self._client.v1.payment_intents.capture_async(
                payment_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as error:
            _raise_translated(error)
        return _payment(intent.to_dict())

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> Payment:
        try:
            intent = await self._client.v1.payment_intents.cancel_async(
                payment_id, options={"idempotency_key": idempotency_key}
            )
        except stripe.StripeError as error:
            _raise_translated(error)
        return _payment(intent.to_dict())

    async def find_charge_payments(self, charge_key: str) -> list[Payment]:
        found = [
            _payment(intent)
            async for intent in self._list("payment_intents", expand=["data.latest_charge"])
            if _metadata(intent).get(CHARGE_KEY_METADATA_KEY) == charge_key
        ]
        return oldest_first(found)

    async def find_payments(self, idempotency_key: str) -> list[Payment]:
        # Neither localstripe nor Stripe's list filters by metadata, and localstripe has no
        # search endpoint: scan the list. This runs only when recovering from a lost answer.
        found = [
            _payment(intent)
            async for intent in self._list("payment_intents", expand=["data.latest_charge"])
            if _metadata(intent).get(IDEMPOTENCY_METADATA_KEY) == idempotency_key
        ]
        return sorted(found, key=lambda payment: (payment.created, payment.id))

    # -- refunds -----------------------------------------------------------------------------

    async def refund(
        self,
        payment_id: str,
        *,
        amount: int | None,
        idempotency_key: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Refund:
        params: dict[str, Any] = {
            "payment_intent": payment_id,
            "metadata": {**(metadata or {}), IDEMPOTENCY_METADATA_KEY: idempotency_key},
        }
        if amount is not None:
            if type(amount) is not int or amount <= 0:
                raise GatewayRequestRejected(f"refund amount must be a positive int: {amount!r}")
            # Stripe's unit can differ from ours (gateways/stripe_amounts.py): the payment
            # says which currency the amount is in.
            currency = (await self.retrieve_payment(payment_id)).currency
            params["amount"] = to_stripe_amount(amount, currency)
        try:
            refund = await self._client.v1.refunds.create_async(
                params=params,  # type: ignore[arg-type]  # built above from typed fields
                options={"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as error:
            _raise_translated(error)
        return _refund(refund.to_dict())

    async def find_refunds(self, payment_id: str, idempotency_key: str) -> list[Refund]:
        found = [
            _refund(refund)
            async for refund in self._list("refunds", payment_intent=payment_id)
            if _metadata(refund).get(IDEMPOTENCY_METADATA_KEY) == idempotency_key
        ]
        return sorted(found, key=lambda refund: (refund.created, refund.id))

    # -- listing for reconciliation ---------------------------------------------------------

    async def list_payments(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[Payment]:
        return oldest_first(
            [
                _payment(intent)
                async for intent in self._list_period(
                    "payment_intents", created_from, created_until, expand=["data.latest_charge"]
                )
            ]
        )

    async def list_refunds(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[Refund]:
        return oldest_first(
            [
                _refund(refund)
                async for refund in self._list_period("refunds", created_from, created_until)
            ]
        )

    async def list_balance_transactions(
        self, created_from: datetime, created_until: datetime | None
    ) -> list[BalanceTransaction]:
        return oldest_first(
            [
                _balance_transaction(txn)
                async for txn in self._list_period(
                    "balance_transactions", created_from, created_until
                )
            ]
        )

    async def _list_period(
        self,
        resource: str,
        created_from: datetime,
        created_until: datetime | None,
        *,
        expand: list[str] | None = None,
    ) -> AsyncIterator[dict[str, Any]]:
        """Every object of a list endpoint created in [created_from, created_until) (None:
        no upper bound).

        The period is always applied here; the server is asked to filter too only when
        `server_filters_created` (localstripe answers 400 or 500 to a `created` filter).
        """
        if created_from.tzinfo is None or (
            created_until is not None and created_until.tzinfo is None
        ):
            raise GatewayRequestRejected("listing periods must be timezone-aware")
        filters: dict[str, Any] = {}
        if self._server_filters_created:
            created = {"gte": math.floor(created_from.timestamp())}
            if created_until is not None:
                created["lt"] = math.ceil(created_until.timestamp())
            filters["created"] = created
        async for item in self._list(resource, expand=expand, **filters):
            created_at = _timestamp(item)
            if created_from <= created_at and (created_until is None or created_at < created_until):
                yield item

    # -- plumbing ----------------------------------------------------------------------------

    async def _list(
        self, resource: str, *, expand: list[str] | None = None, **filters: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every object of a list endpoint, following pagination, as plain dicts.

        Pages are followed by hand (has_more, starting_after = the last id) rather than with
        the SDK's auto-pager, because localstripe's pager, given a `starting_after` it no longer
        holds (a deleted object), starts again from the first object: the auto-pager would loop
        for ever. A page that repeats an object already listed raises GatewayProtocolError,
        so the caller retries the whole listing rather than getting a short or doubled one.
        """
        params: dict[str, Any] = {"limit": _LIST_PAGE_SIZE, **filters}
        if expand:
            params["expand"] = expand
        seen: set[str] = set()
        while True:
            items, has_more = await self._page(f"/v1/{resource}", params)
            ids = [_str(item, "id") for item in items]
            if not seen.isdisjoint(ids):
                raise GatewayProtocolError(
                    f"the {resource} listing went back to objects already listed "
                    f"(after {params.get('starting_after')!r})"
                )
            seen.update(ids)
            for item in items:
                yield item
            if not has_more or not items:
                return
            params["starting_after"] = ids[-1]

    async def _page(self, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
        """One page of a list endpoint as the JSON the server sent, and whether more follow.

        Read through the SDK's raw request (its errors, headers and HTTP client as for any
        call) but not turned into StripeObjects: building one costs about half a millisecond,
        most of a listing's CPU, and we copy a few fields out of each.
        """
        try:
            response = await self._client.raw_request_async("get", path, **params)
        except stripe.StripeError as error:
            _raise_translated(error)
        page = response.data
        if not isinstance(page, Mapping):
            raise GatewayProtocolError(f"{path} answered a {type(page).__name__}, not a list")
        items, has_more = page.get("data"), page.get("has_more")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise GatewayProtocolError(f"{path} answered a page without a list of objects")
        if not isinstance(has_more, bool):
            raise GatewayProtocolError(f"{path} answered has_more={has_more!r}")
        return items, has_more

    async def _declined_payment_id(self, error: stripe.CardError) -> str | None:
        """The PaymentIntent a decline belongs to: Stripe names it, localstripe only the charge."""
        body = _error_body(error)
        intent = body.get("payment_intent")
        if isinstance(intent, Mapping) and isinstance(intent.get("id"), str):
            return str(intent["id"])
        charge_id = body.get("charge")
        if not isinstance(charge_id, str):
            return None
        try:
            charge = await self._client.v1.charges.retrieve_async(charge_id)
        except stripe.StripeError as lookup_error:
            _raise_translated(lookup_error)
        payment_intent = charge.to_dict().get("payment_intent")
        return payment_intent if isinstance(payment_intent, str) else None


# -- error translation -----------------------------------------------------------------------


def _error_body(error: stripe.StripeError) -> Mapping[str, Any]:
    body = error.json_body
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return body["error"]  # type: ignore[no-any-return]
    return {}


def _card_declined(error: stripe.CardError, *, payment_id: str | None) -> CardDeclined:
    body = _error_body(error)
    decline_code = body.get("decline_code")
    return CardDeclined(
        error.user_message or str(error) or "card declined",
        code=error.code or "card_declined",
        decline_code=decline_code if isinstance(decline_code, str) else None,
        payment_id=payment_id,
    )


def _translate(error: stripe.StripeError) -> GatewayError:
    message = error.user_message or str(error) or type(error).__name__
    status = error.http_status
    if isinstance(error, stripe.CardError):
        return _card_declined(error, payment_id=None)
    if isinstance(error, stripe.APIConnectionError):
        cause = error.__cause__
        if isinstance(cause, httpx.TimeoutException):
            return GatewayTimeout(f"gateway timed out: {cause!r}")
        if isinstance(cause, httpx.ConnectError):
            return GatewayUnavailable(f"gateway refused the connection: {cause!r}")
        return GatewayConnectionLost(f"connection to the gateway lost: {cause!r}")
    if isinstance(error, stripe.AuthenticationError | stripe.PermissionError):
        return GatewayAuthError(message, http_status=status)
    if isinstance(error, stripe.RateLimitError):
        return GatewayUnavailable(message, http_status=status)
    if isinstance(error, stripe.InvalidRequestError | stripe.IdempotencyError):
        if status == 404:
            return GatewayNotFound(message, http_status=status)
        return GatewayRequestRejected(message, http_status=status)
    if status is not None and status >= 500:
        return GatewayUnavailable(f"gateway answered {status}: {message}", http_status=status)
    # An APIError with a 2xx status means a body the SDK could not read.
    return GatewayProtocolError(f"unexpected gateway answer ({status}): {message}")


def _raise_translated(error: stripe.StripeError) -> NoReturn:
    raise _translate(error) from error


# -- reading answers -------------------------------------------------------------------------


def _str(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise GatewayProtocolError(f"gateway object lacks a string {key!r}: {value!r}")
    return value


def _opt_str(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, Mapping):  # an expanded object: we want its id
        return _str(value, "id")
    raise GatewayProtocolError(f"gateway object has a non-string {key!r}: {value!r}")


def _int(obj: Mapping[str, Any], key: str) -> int:
    value = obj.get(key)
    if type(value) is not int:
        raise GatewayProtocolError(f"gateway object lacks an integer {key!r}: {value!r}")
    return value


def _timestamp(obj: Mapping[str, Any], key: str = "created") -> datetime:
    return datetime.fromtimestamp(_int(obj, key), tz=UTC)


def _metadata(obj: Mapping[str, Any]) -> dict[str, str]:
    value = obj.get("metadata") or {}
    if not isinstance(value, Mapping):
        raise GatewayProtocolError(f"gateway object has malformed metadata: {value!r}")
    return {str(k): str(v) for k, v in value.items()}


_INTENT_STATUSES: Mapping[str, PaymentStatus] = {
    "requires_confirmation": PaymentStatus.PENDING,
    "processing": PaymentStatus.PENDING,
    "requires_capture": PaymentStatus.REQUIRES_CAPTURE,
    "requires_action": PaymentStatus.REQUIRES_ACTION,
    "succeeded": PaymentStatus.SUCCEEDED,
    "canceled": PaymentStatus.CANCELED,
}


def _payment(intent: Mapping[str, Any]) -> Payment:
    raw_status = _str(intent, "status")
    error = intent.get("last_payment_error") or {}
    if not isinstance(error, Mapping):
        raise GatewayProtocolError(f"malformed last_payment_error: {error!r}")
    if raw_status == "requires_payment_method":
        # Before any attempt this means "no card yet"; after a failed attempt, a decline.
        status = PaymentStatus.FAILED if error else PaymentStatus.PENDING
    elif raw_status in _INTENT_STATUSES:
        status = _INTENT_STATUSES[raw_status]
    else:
        raise GatewayProtocolError(f"unknown PaymentIntent status {raw_status!r}")
    charge = intent.get("latest_charge")
    amount_refunded = 0
    if isinstance(charge, Mapping):
        amount_refunded = from_stripe_amount(
            _int(charge, "amount_refunded"), _str(intent, "currency")
        )
    metadata = _metadata(intent)
    decline_code = error.get("decline_code") or error.get("code")
    failure_message = error.get("message")
    return Payment(
        id=_str(intent, "id"),
        status=status,
        amount=from_stripe_amount(_int(intent, "amount"), _str(intent, "currency")),
        currency=_str(intent, "currency").upper(),
        created=_timestamp(intent),
        customer_id=_opt_str(intent, "customer"),
        payment_method_id=_opt_str(intent, "payment_method"),
        idempotency_key=metadata.get(IDEMPOTENCY_METADATA_KEY),
        metadata=metadata,
        amount_refunded=amount_refunded,
        charge_id=_opt_str(intent, "latest_charge"),
        decline_code=decline_code if isinstance(decline_code, str) else None,
        failure_message=failure_message if isinstance(failure_message, str) else None,
    )


_REFUND_STATUSES: Mapping[str, RefundStatus] = {
    "pending": RefundStatus.PENDING,
    "requires_action": RefundStatus.PENDING,
    "succeeded": RefundStatus.SUCCEEDED,
    "failed": RefundStatus.FAILED,
    "canceled": RefundStatus.CANCELED,
}


def _refund(refund: Mapping[str, Any]) -> Refund:
    raw_status = _str(refund, "status")
    if raw_status not in _REFUND_STATUSES:
        raise GatewayProtocolError(f"unknown refund status {raw_status!r}")
    metadata = _metadata(refund)
    return Refund(
        id=_str(refund, "id"),
        payment_id=_opt_str(refund, "payment_intent"),
        amount=from_stripe_amount(_int(refund, "amount"), _str(refund, "currency")),
        currency=_str(refund, "currency").upper(),
        status=_REFUND_STATUSES[raw_status],
        created=_timestamp(refund),
        idempotency_key=metadata.get(IDEMPOTENCY_METADATA_KEY),
        metadata=metadata,
        charge_id=_opt_str(refund, "charge"),
    )


def _balance_transaction(txn: Mapping[str, Any]) -> BalanceTransaction:
    details = txn.get("fee_details") or []
    if not isinstance(details, list) or not all(isinstance(d, Mapping) for d in details):
        raise GatewayProtocolError(f"malformed fee_details: {details!r}")
    amount, fee = _int(txn, "amount"), _int(txn, "fee")
    net = txn.get("net", amount - fee)
    if type(net) is not int or net != amount - fee:
        raise GatewayProtocolError(f"balance transaction net {net!r} != {amount} - {fee}")
    category = txn.get("reporting_category")
    return BalanceTransaction(
        id=_str(txn, "id"),
        type=_str(txn, "type"),
        amount=amount,
        fee=fee,
        net=net,
        currency=_str(txn, "currency").upper(),
        created=_timestamp(txn),
        source_id=_opt_str(txn, "source"),
        reporting_category=category if isinstance(category, str) else None,
        fees=tuple(
            GatewayFee(
                amount=_int(detail, "amount"),
                currency=_str(detail, "currency").upper(),
                type=_str(detail, "type"),
                description=_opt_str(detail, "description"),
            )
            for detail in details
        ),
    )


def _saved_card(method: Mapping[str, Any]) -> SavedCard:
    card = method.get("card")
    if not isinstance(card, Mapping):
        raise GatewayProtocolError(f"payment method {method.get('id')!r} is not a card")
    return SavedCard(
        id=_str(method, "id"),
        customer_id=_str(method, "customer"),
        brand=_str(card, "brand"),
        last4=_str(card, "last4"),
        exp_month=_int(card, "exp_month"),
        exp_year=_int(card, "exp_year"),
    )
