"""The operator registry (data/operators.toml): every operator the feed and the lots name is
in it, every source it cites is in data/README.md, placeholders look like placeholders, and a
bad file is refused with its file, field and reason."""

from __future__ import annotations

import csv
import re
import tomllib
from pathlib import Path

import pytest

from faregate_data import HANOI_FEED, data_path
from faregate_data.errors import OperatorFileError
from faregate_data.operators import PLACEHOLDER_BIC, iban_ok, load_operators, parse_operators

README = data_path("README.md")

GOOD = """
[[operators]]
id = "op-1"
legal_name = "Công ty Cổ phần Ví dụ"
short_name = "Ví dụ"
tax_code = "0100109106"
bank = { name = "A bank", bic = "BFTVVNVX", account = "0011004000123" }
"""


def _feed_operators() -> set[str]:
    with (HANOI_FEED / "agency.txt").open(encoding="utf-8") as agencies:
        return {row["agency_id"] for row in csv.DictReader(agencies)}


def _lot_operators() -> set[str]:
    lots = tomllib.loads(data_path("parking", "lots.toml").read_text(encoding="utf-8"))
    return {lot["operator"] for lot in lots["lots"]}


def test_every_operator_of_the_feed_and_the_lots_is_registered() -> None:
    registry = load_operators()
    used = _feed_operators() | _lot_operators()
    assert used == {"HMC", "TRANSERCO", "iparking-hanoi", "vincom-parking"}
    assert registry.missing(used) == []
    assert registry.name("HMC") == "Hanoi Metro"
    assert registry["TRANSERCO"].legal_name == "Tổng Công ty Vận tải Hà Nội"


def test_every_source_cited_is_listed_in_the_readme() -> None:
    listed = set(re.findall(r"^- \[([A-Z][A-Z0-9]*)\]", README.read_text(encoding="utf-8"), re.M))
    for operator in load_operators().values():
        assert operator.sources, f"{operator.id} cites no source"
        assert set(operator.sources) <= listed, operator.id


def test_facts_that_are_not_public_are_declared_placeholders() -> None:
    for operator in load_operators().values():
        # We found no citable tax code or bank account for any of them (data/README.md).
        assert operator.is_placeholder("tax_code")
        assert operator.tax_code.startswith("00")
        assert operator.is_placeholder("bank")
        assert operator.bank_account.bic == PLACEHOLDER_BIC


def test_a_real_looking_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "ops.toml"
    path.write_text(GOOD, encoding="utf-8")
    registry = load_operators(path)
    operator = registry["op-1"]
    assert (operator.tax_code, operator.placeholders, operator.english_name) == (
        "0100109106", frozenset(), None,
    )  # fmt: skip
    assert not operator.bank_account.is_iban
    assert registry.name("someone-else") == "someone-else"  # unknown ids show as themselves
    assert registry.names() == {"op-1": "Ví dụ"}


def test_an_iban_is_checked() -> None:
    assert iban_ok("GB82WEST12345698765432")  # ISO 13616's example
    assert not iban_ok("GB82WEST12345698765433")
    assert not iban_ok("0011004000123")
    with_iban = GOOD.replace('"0011004000123"', '"GB82WEST12345698765432"')
    assert parse_operators(with_iban)["op-1"].bank_account.is_iban


def _swap(old: str, new: str) -> str:
    assert old in GOOD
    return GOOD.replace(old, new)


@pytest.mark.parametrize(
    ("text", "where", "reason"),
    [
        ("operators = [", "", "not valid TOML"),
        ("", "operators", "non-empty array"),
        ("colour = 1\n" + GOOD, "colour", "unknown field"),
        (GOOD + GOOD, "operators[1].id", "duplicate operator 'op-1'"),
        (_swap('id = "op-1"', 'id = "op 1"'), "operators[0].id", "letters, digits"),
        (_swap('id = "op-1"\n', ""), "operators[0].id", "missing"),
        (_swap('short_name = "Ví dụ"', "short_name = 3"), "operators[0].short_name", "text"),
        (_swap('short_name = "Ví dụ"', 'short_name = " Ví dụ"'), "short_name", "padded"),
        (_swap('"0100109106"', '"01001091"'), "operators[0].tax_code", "10 digits"),
        (_swap('"0100109106"', '"0000109106"'), "tax_code", "looks fictitious"),
        (_swap('bic = "BFTVVNVX"', 'bic = "bftv"'), "operators[0].bank.bic", "BIC"),
        (_swap('bic = "BFTVVNVX"', f'bic = "{PLACEHOLDER_BIC}"'), "bank", "looks fictitious"),
        (_swap('"0011004000123"', '"12-34"'), "operators[0].bank.account", "IBAN"),
        (_swap('"0011004000123"', '"GB82WEST12345698765433"'), "bank.account", "IBAN"),
        (_swap("bank = {", 'bank = { branch = "x",'), "operators[0].bank.branch", "unknown"),
        (_swap("bank = {", 'bank = "x"\nold = {'), "operators[0].old", "unknown field"),
        (GOOD + 'placeholders = ["tax_code"]\n', "operators[0].tax_code", "looks real"),
        (GOOD + 'placeholders = ["name"]\n', "operators[0].placeholders", "may be a placeholder"),
        (GOOD + 'sources = ["lower"]\n', "operators[0].sources", "source label"),
        (GOOD + 'sources = ["K", "K"]\n', "operators[0].sources", "twice"),
        ("operators = [1]", "operators[0]", "must be a table"),
    ],
)
def test_a_bad_file_says_where_and_why(text: str, where: str, reason: str) -> None:
    with pytest.raises(OperatorFileError) as refused:
        parse_operators(text, source="ops.toml")
    message = str(refused.value)
    assert message.startswith("ops.toml: ")
    assert where in message
    assert reason in message
    assert refused.value.file == "ops.toml"


def test_an_unreadable_file_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(OperatorFileError, match=r"nothere\.toml: cannot read"):
        load_operators(tmp_path / "nothere.toml")
