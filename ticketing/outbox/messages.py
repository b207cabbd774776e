"""A message to a rider: recipient account, channel, template key and parameters, when it was
made and the key that makes sending it twice send it once. No I/O.

Messages are stored as a template key and parameters, not text: the words (Vietnamese first,
English as a switch) are the renderer's business. `render` writes one with the words and
formats it is given: `render_english` is plain English; faregate.i18n.render_message gives
the words of a language from the translation catalogue (the English texts here are its
msgids) and the Vietnamese money and day formats; `faregate outbox` shows that.

    message = Message(
        account_id="r00075", channel=Channel.SMS, template=Template.CHARGE_DECLINED,
        parameters={"day": "2026-11-24", "amount": 48000, "currency": "VND"},
        created_at=now, dedup_key="charge-declined:charge:r00075:2026-11-24",
    )
    render_english(message)   # 'Your card was declined for 48,000 VND of fares on 24 Nov 2026...'

A new kind of message is a `Template` member, its parameters in `PARAMETERS` and its words in
`ENGLISH` (then `scripts/messages` and its Vietnamese in the catalogue).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

from ticketing.errors import InvalidMessage, TicketingError
from ticketing.money import Money

MAX_KEY = 200
MAX_TEXT_PARAMETER = 200

Parameter = str | int


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


class Template(enum.StrEnum):
    """What a message says."""

    CHARGE_DECLINED = "charge-declined"  # a day's fares could not be charged to the card
    DEBT_RECOVERED = "debt-recovered"  # a declined day has been paid (a retry, or the wallet)
    LOW_BALANCE = "low-balance"  # the wallet fell below the level worth a warning
    PARKING_UNPAID = "parking-unpaid"  # a parking fee could not be taken at the exit
    RESET_CODE = "reset-code"  # the one-time code that resets a forgotten password


# Each template's parameters and their kinds. Money is an int of minor units beside `currency`;
# a day is an ISO date.
PARAMETERS: Mapping[Template, Mapping[str, type]] = {
    Template.CHARGE_DECLINED: {"day": date, "amount": int, "currency": str},
    Template.DEBT_RECOVERED: {"day": date, "amount": int, "currency": str, "paid_by": str},
    Template.LOW_BALANCE: {"balance": int, "threshold": int, "currency": str},
    Template.PARKING_UNPAID: {"lot": str, "day": date, "amount": int, "currency": str},
    Template.RESET_CODE: {"code": str, "minutes": int},
}
MONEY_PARAMETERS = frozenset({"amount", "balance", "threshold"})



def N_(text: str) -> str:
    """gettext's marker, as faregate.i18n.N_ (ticketing imports nothing of faregate): the text
    goes into the translation catalogue and is translated where a message is rendered."""
    return text


ENGLISH: Mapping[Template, str] = {
    Template.CHARGE_DECLINED: N_(
        "Faregate: your card was declined for {amount} of fares on {day}. Top up your wallet "
        "or save another card to pay it; unpaid fares can block your pass at the gates."
    ),
    Template.DEBT_RECOVERED: N_(
        "Faregate: the {amount} you owed for fares on {day} is paid (by {paid_by}). Thank you."
    ),
    Template.LOW_BALANCE: N_(
        "Faregate: your wallet holds {balance}, less than {threshold}. Top up to keep riding."
    ),
    Template.PARKING_UNPAID: N_(
        "Faregate: {amount} for parking at {lot} on {day} could not be taken when you left. "
        "It is on your account and is charged with your next payment; top up to pay it now."
    ),
    Template.RESET_CODE: N_(
        "Faregate: your code to set a new password is {code}. It works once, for {minutes} "
        "minutes. If you did not ask for it, ignore this message."
    ),
}
# Parameters whose values are words to translate too (the rest are names, codes, numbers).
WORD_VALUES: Mapping[str, Mapping[str, str]] = {
    "paid_by": {"card": N_("card"), "wallet": N_("wallet")},
}


def _check_parameter(template: Template, name: str, kind: type, value: object) -> None:
    if kind is int and (type(value) is not int):
        raise InvalidMessage(f"{template}: {name} must be an integer, not {value!r}")
    if kind in (str, date):
        if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT_PARAMETER:
            raise InvalidMessage(
                f"{template}: {name} must be text of 1-{MAX_TEXT_PARAMETER} characters"
            )
        if kind is date:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidMessage(f"{template}: {name} must be a day (YYYY-MM-DD)") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """One message to one rider (see the module docstring)."""

    account_id: str
    channel: Channel
    template: Template
    parameters: Mapping[str, Parameter]
    created_at: datetime
    dedup_key: str

    def __post_init__(self) -> None:
        if not 0 < len(self.account_id) <= 64:
            raise InvalidMessage("a message needs its recipient's account id (1-64 characters)")
        if not 0 < len(self.dedup_key) <= MAX_KEY or not self.dedup_key.isprintable():
            raise InvalidMessage(f"a dedup key has 1-{MAX_KEY} printable characters")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise InvalidMessage("a message's time must be timezone-aware")
        expected = PARAMETERS[self.template]
        if set(self.parameters) != set(expected):
            missing = sorted(set(expected) - set(self.parameters))
            extra = sorted(set(self.parameters) - set(expected))
            raise InvalidMessage(
                f"{self.template} takes {', '.join(sorted(expected))}"
                + (f"; missing {', '.join(missing)}" if missing else "")
                + (f"; unknown {', '.join(extra)}" if extra else "")
            )
        for name, kind in expected.items():
            _check_parameter(self.template, name, kind, self.parameters[name])
        if "currency" in self.parameters:
            try:
                Money(0, str(self.parameters["currency"]))
            except TicketingError as error:  # an unknown currency
                raise InvalidMessage(f"{self.template}: {error}") from None
        # A frozen copy: a caller's dict changed later cannot change a message made from it.
        object.__setattr__(self, "parameters", MappingProxyType(dict(self.parameters)))

    def to_json(self) -> dict[str, Any]:
        return {
            "dedup_key": self.dedup_key,
            "account_id": self.account_id,
            "channel": self.channel.value,
            "template": self.template.value,
            "parameters": dict(self.parameters),
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_json(cls, document: object) -> Message:
        """A message as `to_json` wrote it; InvalidMessage if it is not one."""
        if not isinstance(document, dict):
            raise InvalidMessage("a stored message must be a JSON object")
        try:
            return cls(
                account_id=document["account_id"],
                channel=Channel(document["channel"]),
                template=Template(document["template"]),
                parameters=document["parameters"],
                created_at=datetime.fromisoformat(document["created_at"]),
                dedup_key=document["dedup_key"],
            )
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidMessage(f"not a stored message: {error!r}") from None


def _english_money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def _english_day(day: date) -> str:
    return day.strftime("%d %b %Y").lstrip("0")


def render(
    message: Message,
    *,
    translate: Callable[[str], str] = str,
    money: Callable[[int, str], str] = _english_money,
    day: Callable[[date], str] = _english_day,
) -> str:
    """The message's text: its template and word values through `translate`, money and days
    written by `money` and `day`."""
    parameters = message.parameters
    currency = str(parameters.get("currency", ""))
    words: dict[str, str] = {}
    for name, value in parameters.items():
        if name in MONEY_PARAMETERS and isinstance(value, int):
            words[name] = money(value, currency)
        elif PARAMETERS[message.template].get(name) is date:
            words[name] = day(date.fromisoformat(str(value)))
        elif name in WORD_VALUES and str(value) in WORD_VALUES[name]:
            words[name] = translate(WORD_VALUES[name][str(value)])
        else:
            words[name] = str(value)
    return translate(ENGLISH[message.template]).format_map(words)


def render_english(message: Message) -> str:
    """The message in plain English: money with its currency, days as `24 Nov 2026`."""
    return render(message)
