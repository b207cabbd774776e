"""Messages to riders as values: what each template takes, its plain English, its JSON, and
what the announcements build (one dedup key per fact)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ticketing.errors import InvalidMessage
from ticketing.money import Money
from ticketing.outbox import announcements
from ticketing.outbox.announcements import PaidBy
from ticketing.outbox.messages import (
    ENGLISH,
    PARAMETERS,
    Channel,
    Message,
    Template,
    render_english,
)

AT = datetime(2026, 11, 24, 21, 5, tzinfo=UTC)
DAY = date(2026, 11, 24)


def declined() -> Message:
    return announcements.charge_declined("r1", DAY, Money(48_000, "VND"), at=AT)


def test_every_template_has_its_parameters_and_its_english() -> None:
    assert set(PARAMETERS) == set(Template) == set(ENGLISH)
    for template, text in ENGLISH.items():
        named = {part.split("}")[0] for part in text.split("{")[1:]}
        assert named <= set(PARAMETERS[template]), template


def test_a_declined_charge_in_english() -> None:
    message = declined()
    assert (message.channel, message.template) == (Channel.SMS, Template.CHARGE_DECLINED)
    assert message.dedup_key == "charge-declined:r1:2026-11-24"
    assert render_english(message) == (
        "Faregate: your card was declined for 48,000 VND of fares on 24 Nov 2026. Top up your "
        "wallet or save another card to pay it; unpaid fares can block your pass at the gates."
    )


def test_debt_recovered_and_low_balance_in_english() -> None:
    paid = announcements.debt_recovered("r1", DAY, Money(48_000, "VND"), PaidBy.WALLET, at=AT)
    assert paid.dedup_key == "debt-recovered:r1:2026-11-24"
    assert "the 48,000 VND you owed for fares on 24 Nov 2026 is paid (by wallet)" in (
        render_english(paid)
    )
    low = announcements.low_balance(
        "r1", Money(4_000, "VND"), Money(20_000, "VND"), because="payment:t1", at=AT
    )
    assert low is not None
    assert low.dedup_key == "low-balance:r1:payment:t1"
    assert "holds 4,000 VND, less than 20,000 VND" in render_english(low)


@pytest.mark.parametrize(
    ("balance", "threshold", "warned"),
    [(19_999, 20_000, True), (20_000, 20_000, False), (-5_000, 20_000, True)],
)
def test_low_balance_warns_only_below_the_threshold(
    balance: int, threshold: int, warned: bool
) -> None:
    found = announcements.low_balance(
        "r1", Money(balance, "VND"), Money(threshold, "VND"), because="p", at=AT
    )
    assert (found is not None) is warned


def test_low_balance_ignores_a_wallet_in_another_currency() -> None:
    low = announcements.low_balance("r1", Money(1, "EUR"), Money(20_000, "VND"), because="p", at=AT)
    assert low is None


def test_json_round_trip_keeps_every_field() -> None:
    message = declined()
    assert Message.from_json(message.to_json()) == message


def test_parameters_are_copied_and_frozen() -> None:
    parameters: dict[str, str | int] = {"day": "2026-11-24", "amount": 1, "currency": "VND"}
    message = Message(
        account_id="r1", channel=Channel.EMAIL, template=Template.CHARGE_DECLINED,
        parameters=parameters, created_at=AT, dedup_key="k",
    )  # fmt: skip
    parameters["amount"] = 2
    assert message.parameters["amount"] == 1
    with pytest.raises(TypeError):
        message.parameters["amount"] = 3  # type: ignore[index]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"account_id": ""}, "account id"),
        ({"dedup_key": ""}, "dedup key"),
        ({"created_at": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"parameters": {"day": "2026-11-24", "amount": 1}}, "missing currency"),
        ({"parameters": {"day": "2026-11-24", "amount": 1, "currency": "VND", "x": 1}}, "x"),
        ({"parameters": {"day": "24/11/2026", "amount": 1, "currency": "VND"}}, "YYYY-MM-DD"),
        ({"parameters": {"day": "2026-11-24", "amount": "1", "currency": "VND"}}, "integer"),
        ({"parameters": {"day": "2026-11-24", "amount": True, "currency": "VND"}}, "integer"),
        ({"parameters": {"day": "2026-11-24", "amount": 1, "currency": "XYZ"}}, "XYZ"),
    ],
)
def test_a_bad_message_is_refused(changes: dict[str, object], reason: str) -> None:
    fields: dict[str, object] = {
        "account_id": "r1", "channel": Channel.SMS, "template": Template.CHARGE_DECLINED,
        "parameters": {"day": "2026-11-24", "amount": 1, "currency": "VND"},
        "created_at": AT, "dedup_key": "k",
    }  # fmt: skip
    with pytest.raises(InvalidMessage, match=reason):
        Message(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "document",
    [
        [],
        {},
        {**declined().to_json(), "channel": "pigeon"},
        {**declined().to_json(), "created_at": "x"},
    ],
)
def test_a_stored_line_that_is_no_message_is_refused(document: object) -> None:
    with pytest.raises(InvalidMessage):
        Message.from_json(document)
