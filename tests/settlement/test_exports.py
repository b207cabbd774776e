"""What finance takes away from a settled day: the statements and exceptions workbooks, the
general-ledger journal (balanced per posting) and the payouts file (pain.001.001.09, valid
against ISO's published schema)."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema
from openpyxl import load_workbook

from faregate_data.chart_of_accounts import load_chart, parse_chart
from faregate_data.errors import ChartFileError, OperatorFileError
from faregate_data.operators import load_operators, parse_operators
from tests.helpers.settlement import DAY, HANOI, at, ride
from tests.settlement.synthetic import synthetic_day
from tests.wallets import open_funded_wallets
from ticketing.audit import Actor
from ticketing.fares.feed import FareFeed
from ticketing.ledger.accounts import AccountKind
from ticketing.ledger.postings import Entry, Posting
from ticketing.money import Money
from ticketing.services.settlement import settle
from ticketing.services.taps import ingest_and_price
from ticketing.settlement.calendar import cut_off
from ticketing.settlement.errors import NoPayoutAccount, UnmappedLedgerAccount
from ticketing.settlement.journal import (
    JOURNAL_COLUMNS,
    RecordedPosting,
    balances,
    journal_csv,
    journal_lines,
)
from ticketing.settlement.payouts import NAMESPACE, Payee, payouts
from ticketing.settlement.writers import Report, write_reports
from ticketing.unit_of_work import UnitOfWorkFactory

SCHEMA_DIR = Path(__file__).parents[1] / "fixtures" / "iso20022"
SCHEMA_SHA256 = "de038b373e47b0077b1832ddd81f4b2f1eb25d35721f62da1e38b7f5a09fda24"
WRITTEN = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NS = {"p": NAMESPACE}


def _registry_text() -> str:
    return (Path(load_operators.__code__.co_filename).parent / "operators.toml").read_text()


@pytest.fixture(scope="module")
def pain001() -> xmlschema.XMLSchema:
    path = SCHEMA_DIR / "pain.001.001.09.xsd"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SCHEMA_SHA256  # as SOURCE.md says
    return xmlschema.XMLSchema(path)


def _document(xml: bytes) -> ET.Element:
    return ET.fromstring(xml)


# -- payouts (pain.001) ---------------------------------------------------------------------


def test_the_payouts_file_is_valid_pain001_paying_each_operator_its_net(
    pain001: xmlschema.XMLSchema,
) -> None:
    registry = load_operators()
    result = payouts(
        day=DAY,
        currency="VND",
        digest="ab" * 32,
        payees=[
            Payee(operator_id="HMC", net=1_234_567),
            Payee(operator_id="TRANSERCO", net=89_000),
            Payee(operator_id="vincom-parking", net=0),  # nothing owed: not paid
            Payee(operator_id="iparking-hanoi", net=-5_000),  # owes us: not paid
            Payee(operator_id="not-registered", net=7_000),  # no bank account: withheld
        ],
        registry=registry,
        created_at=WRITTEN,
    )
    pain001.validate(io.BytesIO(result.xml))
    document = _document(result.xml)
    transfers = document.findall(".//p:CdtTrfTxInf", NS)
    paid = {
        t.findtext("p:Cdtr/p:Nm", namespaces=NS): t.find("p:Amt/p:InstdAmt", NS) for t in transfers
    }
    assert {name: (a.text, a.get("Ccy")) for name, a in paid.items() if a is not None} == {
        registry["HMC"].legal_name: ("1234567", "VND"),
        registry["TRANSERCO"].legal_name: ("89000", "VND"),
    }
    accounts = [t.findtext("p:CdtrAcct/p:Id/p:Othr/p:Id", namespaces=NS) for t in transfers]
    assert accounts == [
        registry["HMC"].bank_account.account,
        registry["TRANSERCO"].bank_account.account,
    ]
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert document.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "1323567"
    house = registry.clearing_house
    assert house is not None
    debtor = document.findtext(".//p:PmtInf/p:DbtrAcct/p:Id/p:Othr/p:Id", namespaces=NS)
    assert debtor == house.bank_account.account
    assert (result.transfers, result.total) == (2, 1_323_567)
    assert [(w.operator_id, w.net) for w in result.withheld] == [("not-registered", 7_000)]


def test_a_payouts_file_in_a_currency_with_cents_and_to_an_iban_validates(
    pain001: xmlschema.XMLSchema,
) -> None:
    text = _registry_text()
    iban = 'account = "GB82WEST12345698765432"'
    registry = parse_operators(
        text.replace('bic = "XXXXVNVX", account = "000000000001"', f'bic = "WESTGB2L", {iban}')
        .replace('placeholders = ["tax_code", "bank"]\nsources = ["K", "OP1"]',
                 'placeholders = ["tax_code"]\nsources = ["K", "OP1"]')
    )  # fmt: skip
    result = payouts(
        day=DAY, currency="USD", digest="cd" * 32, payees=[Payee(operator_id="HMC", net=1_050)],
        registry=registry, created_at=WRITTEN,
    )  # fmt: skip
    pain001.validate(io.BytesIO(result.xml))
    document = _document(result.xml)
    assert document.findtext(".//p:CdtrAcct/p:Id/p:IBAN", namespaces=NS) == (
        "GB82WEST12345698765432"
    )
    assert document.findtext(".//p:InstdAmt", namespaces=NS) == "10.50"


def test_a_day_with_nothing_to_pay_is_a_file_the_schema_refuses_no_more_than_it_should(
    pain001: xmlschema.XMLSchema,
) -> None:
    # pain.001 needs a payment instruction: a day that pays nobody has a header only, which
    # the schema refuses (so a bank would too); the check can fail, and says why.
    result = payouts(
        day=DAY, currency="VND", digest="ef" * 32, payees=[Payee(operator_id="HMC", net=0)],
        registry=load_operators(), created_at=WRITTEN,
    )  # fmt: skip
    assert result.transfers == 0
    with pytest.raises(xmlschema.XMLSchemaValidationError, match="PmtInf"):
        pain001.validate(io.BytesIO(result.xml))


def test_payouts_need_the_clearing_house_to_pay_from() -> None:
    text = _registry_text()
    start = text.index("\n[clearing_house]\n")
    end = text.index("\n[[operators]]\n")
    registry = parse_operators(text[:start] + text[end:])
    with pytest.raises(NoPayoutAccount, match="clearing house"):
        payouts(
            day=DAY, currency="VND", digest="00" * 32, payees=[], registry=registry,
            created_at=WRITTEN,
        )  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("[clearing_house]\nid = \"faregate\"", "clearing_house = 3\n[x]\nid = \"faregate\""),
         "x"),
        (("[clearing_house]\nid = \"faregate\"", "[clearing_house]\nid = \"HMC\""),
         "clearing_house.id"),
        (('tax_code = "0000000009"', 'tax_code = "12"'), "clearing_house.tax_code"),
    ],
)  # fmt: skip
def test_a_bad_clearing_house_entry_names_its_field(change: tuple[str, str], field: str) -> None:
    text = _registry_text()
    with pytest.raises(OperatorFileError) as caught:
        parse_operators(text.replace(*change))
    assert caught.value.field == field


# -- the general-ledger journal -------------------------------------------------------------


def _posting(posting_id: str, *entries: tuple[str, int]) -> Posting:
    return Posting(
        posting_id,
        tuple(Entry(account, Money(amount, "VND")) for account, amount in entries),
        WRITTEN,
        f"test {posting_id}",
    )


def test_every_ledger_account_kind_is_mapped_by_the_shipped_chart() -> None:
    assert set(load_chart()) == {kind.value for kind in AccountKind}


def test_the_journal_has_a_line_per_posting_line_and_each_posting_balances() -> None:
    fare = _posting(
        "fare:alice:2026-11-24:v1",
        ("wallet:alice", 20_000), ("operator:HMC", -15_000), ("operator:TRANSERCO", -5_000),
    )  # fmt: skip
    charge = _posting(
        "payment:charge:bob:2026-11-24", ("gateway:stripe:clearing", 8_000),
        ("receivable:bob", -8_000),
    )  # fmt: skip
    lines = journal_lines(
        DAY,
        [RecordedPosting(posting=charge, recorded_at=WRITTEN),
         RecordedPosting(posting=fare, recorded_at=WRITTEN.replace(hour=1))],
        load_chart(),
    )  # fmt: skip
    assert [(line.posting_id, line.line) for line in lines] == [
        (fare.id, 1), (fare.id, 2), (fare.id, 3), (charge.id, 1), (charge.id, 2),
    ]  # fmt: skip
    assert [(line.gl_account, line.sub_account, line.debit, line.credit) for line in lines] == [
        ("3388", "alice", Decimal(20_000), Decimal(0)),
        ("331", "HMC", Decimal(0), Decimal(15_000)),
        ("331", "TRANSERCO", Decimal(0), Decimal(5_000)),
        ("113", "stripe", Decimal(8_000), Decimal(0)),
        ("131", "bob", Decimal(0), Decimal(8_000)),
    ]
    assert balances(lines) == {}
    rows = list(csv.DictReader(io.StringIO(journal_csv(lines))))
    assert tuple(rows[0]) == JOURNAL_COLUMNS
    assert [(r["debit"], r["credit"]) for r in rows[:2]] == [("20000", ""), ("", "15000")]
    broken = [lines[0], *lines[2:]]  # a line lost: its posting no longer balances
    assert balances(broken) == {(fare.id, "VND"): Decimal(15_000)}


def test_a_posting_line_the_chart_does_not_map_is_refused() -> None:
    chart = {k: v for k, v in load_chart().items() if k != "suspense"}
    move = _posting("suspense:x", ("gateway:stripe:clearing", 10), ("suspense:reconciliation", -10))
    with pytest.raises(UnmappedLedgerAccount, match=r"'suspense'.*suspense:x"):
        journal_lines(DAY, [RecordedPosting(posting=move, recorded_at=WRITTEN)], chart)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[accounts.operator]\nnumber = 331\nname = 'x'", "accounts.operator.number"),
        ("[accounts.operator]\nnumber = '331'\nname = ''", "accounts.operator.name"),
        ("[accounts.Operator]\nnumber = '331'\nname = 'x'", "accounts.Operator"),
        ("[accounts.operator]\nnumber = '331'\nname = 'x'\nvat = 1", "accounts.operator.vat"),
        ("[accounts]", "accounts"),
        ("accounts = 1", "accounts"),
        ("[ledger]", "ledger"),
        ("[accounts", ""),
    ],
)
def test_a_bad_chart_of_accounts_names_its_field(text: str, field: str) -> None:
    with pytest.raises(ChartFileError) as caught:
        parse_chart(text)
    assert caught.value.field == field


# -- the workbooks, and a settled day's report directory -----------------------------------


def test_the_workbooks_hold_the_csv_rows_with_amounts_as_numbers(tmp_path: Path) -> None:
    settled = synthetic_day(random.Random(11))
    files = write_reports(
        settled, tmp_path, registry=load_operators(), journal=(), written_at=WRITTEN
    )
    for xlsx, csv_file in (
        (files.path(Report.STATEMENTS_XLSX), files.path(Report.STATEMENTS_CSV)),
        (files.path(Report.EXCEPTIONS_XLSX), files.path(Report.EXCEPTIONS_CSV)),
    ):
        sheet = load_workbook(xlsx, read_only=True).worksheets[0]
        cells = [list(row) for row in sheet.iter_rows(values_only=True)]
        with csv_file.open() as handle:
            expected = list(csv.reader(handle))
        assert [[("" if v is None else str(v)) for v in row] for row in cells] == expected
        header = cells[0]
        assert isinstance(cells[1][header.index("amount" if "amount" in header else "net")], int)


async def test_a_settled_days_report_directory_holds_the_exports(
    uow_factory: UnitOfWorkFactory,
    feed: FareFeed,
    tmp_path: Path,
    pain001: xmlschema.XMLSchema,
) -> None:
    during = UnitOfWorkFactory(uow_factory.engine, clock=lambda: at(DAY, 23, 0))
    async with during() as uow:
        await open_funded_wallets(uow, ["alice", "carol"])
        await uow.commit()
    await ingest_and_price(during, feed, [*ride(1, "alice", DAY, 7), *ride(1, "carol", DAY, 8)])
    after = UnitOfWorkFactory(uow_factory.engine, clock=lambda: cut_off(DAY).replace(hour=9))
    report = tmp_path / "reports"
    await settle(after, feed, DAY, who=Actor.administrator("t"), report_dir=report)

    for name in ("statements.xlsx", "exceptions.xlsx", "journal.csv", "payouts.xml"):
        assert (report / name).is_file(), name
    pain001.validate(str(report / "payouts.xml"))
    with (report / "journal.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    async with uow_factory() as uow:
        recorded = await uow.ledger.postings_recorded(
            datetime(2026, 11, 24, 4, tzinfo=HANOI), datetime(2026, 11, 25, 4, tzinfo=HANOI)
        )
    assert {r["posting_id"] for r in rows} == {p.id for p, _ in recorded} != set()
    assert len(rows) == sum(len(p.entries) for p, _ in recorded)
    net: dict[str, Decimal] = {}
    for r in rows:
        net[r["posting_id"]] = (
            net.get(r["posting_id"], Decimal(0))
            + Decimal(r["debit"] or 0) - Decimal(r["credit"] or 0)
        )  # fmt: skip
    assert set(net.values()) == {Decimal(0)}  # every posting balances
    assert {r["journal_day"] for r in rows} == {date(2026, 11, 24).isoformat()}
