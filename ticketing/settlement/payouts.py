"""The day's operator payouts as an ISO 20022 credit transfer initiation (pain.001.001.09),
the file a clearing house uploads to its bank (docs/SETTLEMENT.md, "Exports").

One payment instruction from the clearing house's account (the debtor, the operator
registry's `[clearing_house]`), one credit transfer per operator whose statement nets a
positive amount, to the bank account the registry holds for it. An operator with a net of
zero or less is paid nothing (a negative net is money the operator owes, collected apart); an
operator the registry does not know cannot be paid and is listed in `withheld` instead, never
dropped silently. Amounts are in major units of the day's currency (đồng have none).

Identifiers are stable, so the file of a day is the same whenever it is written: the message
id names the day and the settled digest, each transfer's end-to-end id the day and its line.

Pure: figures in, XML bytes out (xml.etree; the tests validate it against ISO's schema).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from faregate_data.operators import BankAccount, Operator, OperatorRegistry
from ticketing.money import Money
from ticketing.settlement.errors import NoPayoutAccount

NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
TAX_ID_SCHEME = "TXID"  # ISO 20022 external code: tax identification number
SUPPLIER_PAYMENT = "SUPP"  # category purpose: supplier payment
MAX_NAME = 140
MAX_REMITTANCE = 140


@dataclass(frozen=True, slots=True, kw_only=True)
class Payee:
    """What an operator is owed for the day (its statement's net)."""

    operator_id: str
    net: int  # minor units of the day's currency


@dataclass(frozen=True, slots=True, kw_only=True)
class Withheld:
    operator_id: str
    net: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Payouts:
    """The pain.001 document and what it pays, and whom it could not pay."""

    xml: bytes
    transfers: int
    total: int  # minor units
    withheld: tuple[Withheld, ...]


def payouts(
    *,
    day: date,
    currency: str,
    digest: str,
    payees: Sequence[Payee],
    registry: OperatorRegistry,
    created_at: datetime,
    execution_day: date | None = None,
) -> Payouts:
    """The payouts of settled `day` (see the module docstring); `execution_day` is when the
    bank is asked to pay (default: the day after the service day)."""
    debtor = registry.clearing_house
    if debtor is None:
        raise NoPayoutAccount("the operator registry names no clearing house to pay from")
    paid: list[tuple[Operator, int]] = []
    withheld: list[Withheld] = []
    for payee in sorted(payees, key=lambda p: p.operator_id):
        if payee.net <= 0:
            continue
        operator = registry.get(payee.operator_id)
        if operator is None:
            withheld.append(
                Withheld(
                    operator_id=payee.operator_id,
                    net=payee.net,
                    reason="not in the operator registry: no bank account to pay",
                )
            )
            continue
        paid.append((operator, payee.net))
    total = sum(net for _, net in paid)
    ymd = day.strftime("%Y%m%d")
    document = ET.Element("Document", xmlns=NAMESPACE)
    initiation = ET.SubElement(document, "CstmrCdtTrfInitn")
    header = ET.SubElement(initiation, "GrpHdr")
    _text(header, "MsgId", f"FG-PAYOUT-{ymd}-{digest[:12]}")
    _text(header, "CreDtTm", created_at.isoformat(timespec="seconds"))
    _text(header, "NbOfTxs", str(len(paid)))
    _text(header, "CtrlSum", _decimal(total, currency))
    _party(ET.SubElement(header, "InitgPty"), debtor)
    if paid:  # a pain.001 needs at least one instruction with at least one transfer
        instruction = ET.SubElement(initiation, "PmtInf")
        _text(instruction, "PmtInfId", f"FG-{ymd}-OPERATORS")
        _text(instruction, "PmtMtd", "TRF")
        _text(instruction, "BtchBookg", "false")
        _text(instruction, "NbOfTxs", str(len(paid)))
        _text(instruction, "CtrlSum", _decimal(total, currency))
        kind = ET.SubElement(instruction, "PmtTpInf")
        _text(ET.SubElement(kind, "CtgyPurp"), "Cd", SUPPLIER_PAYMENT)
        when = execution_day or date.fromordinal(day.toordinal() + 1)
        _text(ET.SubElement(instruction, "ReqdExctnDt"), "Dt", when.isoformat())
        _party(ET.SubElement(instruction, "Dbtr"), debtor)
        _account(ET.SubElement(instruction, "DbtrAcct"), debtor.bank_account, currency)
        _agent(ET.SubElement(instruction, "DbtrAgt"), debtor.bank_account)
        _text(instruction, "ChrgBr", "DEBT")  # the clearing house bears the bank's charges
        for line, (operator, net) in enumerate(paid, start=1):
            transfer = ET.SubElement(instruction, "CdtTrfTxInf")
            ids = ET.SubElement(transfer, "PmtId")
            _text(ids, "InstrId", f"FG-{ymd}-{line:04d}")
            _text(ids, "EndToEndId", f"FG-{ymd}-{line:04d}")
            amount = ET.SubElement(ET.SubElement(transfer, "Amt"), "InstdAmt", Ccy=currency)
            amount.text = _decimal(net, currency)
            _agent(ET.SubElement(transfer, "CdtrAgt"), operator.bank_account)
            _party(ET.SubElement(transfer, "Cdtr"), operator)
            _account(ET.SubElement(transfer, "CdtrAcct"), operator.bank_account, currency)
            remittance = f"Faregate settlement {day.isoformat()} {operator.id}: {net} {currency}"
            _text(ET.SubElement(transfer, "RmtInf"), "Ustrd", remittance[:MAX_REMITTANCE])
    ET.indent(document)
    xml = ET.tostring(document, encoding="utf-8", xml_declaration=True) + b"\n"
    return Payouts(xml=xml, transfers=len(paid), total=total, withheld=tuple(withheld))


def _text(parent: ET.Element, tag: str, value: str) -> ET.Element:
    element = ET.SubElement(parent, tag)
    element.text = value
    return element


def _decimal(minor: int, currency: str) -> str:
    major: Decimal = Money(minor, currency).to_major()
    return f"{major:f}"


def _party(element: ET.Element, party: Operator) -> None:
    _text(element, "Nm", party.legal_name[:MAX_NAME])
    other = ET.SubElement(ET.SubElement(ET.SubElement(element, "Id"), "OrgId"), "Othr")
    _text(other, "Id", party.tax_code)
    _text(ET.SubElement(other, "SchmeNm"), "Cd", TAX_ID_SCHEME)


def _account(element: ET.Element, bank: BankAccount, currency: str) -> None:
    identification = ET.SubElement(element, "Id")
    if bank.is_iban:
        _text(identification, "IBAN", bank.account)
    else:
        _text(ET.SubElement(identification, "Othr"), "Id", bank.account)
    _text(element, "Ccy", currency)


def _agent(element: ET.Element, bank: BankAccount) -> None:
    institution = ET.SubElement(element, "FinInstnId")
    _text(institution, "BICFI", bank.bic)
    _text(institution, "Nm", bank.bank[:MAX_NAME])
