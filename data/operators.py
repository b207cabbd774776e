"""The operator registry: who Faregate settles with, read from `operators.toml`.

    registry = load_operators()                 # the shipped data/operators.toml
    registry["HMC"].legal_name                  # 'Công ty TNHH MTV Đường sắt Hà Nội'
    registry.name("vincom-parking")             # 'Vincom Retail' (the id itself if unknown)
    registry.clearing_house.bank_account        # who pays the operators out (pain.001's debtor)

An operators file:

    [[operators]]
    id = "HMC"                              # the operator id the fare feed or a lot uses
    legal_name = "..."                      # as registered
    english_name = "..."                    # optional
    short_name = "..."                      # what statements and pages show
    tax_code = "0100000000"                 # Vietnamese tax code: 10 digits, or 10-3 (a branch)
    bank = { name = "...", bic = "BFTVVNVX", account = "0011000000000" }
                                            # account: a Vietnamese account number or an IBAN
    placeholders = ["tax_code", "bank"]     # facts that are not public: documented fictitious
    sources = ["K"]                         # labels of README.md's sources

The file also names the clearing house itself, the account operators are paid from, as one
table of the same fields (`[clearing_house]`); the payouts file (pain.001) names it as debtor.

A fact that is not public is a placeholder, and must look like one, so nobody can take it for
the real value: a placeholder tax code starts with `00` (no province has that code), a
placeholder bank account is at bank `XXXXVNVX`. A value not declared a placeholder must not
look like one. Reading is pure (`parse_operators`); any error names the file, the field (e.g.
`operators[1].tax_code`) and the reason.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from faregate_data import data_path
from faregate_data.errors import OperatorFileError

OPERATORS_FILE = "operators.toml"
PLACEHOLDER_BIC = "XXXXVNVX"
PLACEHOLDER_FIELDS = frozenset({"tax_code", "bank"})

_TOP_KEYS = {"operators", "clearing_house"}
_KEYS = {
    "id", "legal_name", "english_name", "short_name", "tax_code", "bank", "placeholders",
    "sources",
}  # fmt: skip
_REQUIRED = ("id", "legal_name", "short_name", "tax_code", "bank")
_BANK_KEYS = {"name", "bic", "account"}
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_TAX_CODE = re.compile(r"\d{10}(-\d{3})?")
_PLACEHOLDER_TAX_CODE = re.compile(r"00\d{8}(-\d{3})?")
_BIC = re.compile(r"[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")
_DOMESTIC_ACCOUNT = re.compile(r"\d{6,19}")
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_SOURCE = re.compile(r"[A-Z][A-Z0-9]{0,7}")
MAX_TEXT = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class BankAccount:
    """Where an operator is paid: the bank's name and BIC, and the account (a Vietnamese
    account number, or an IBAN)."""

    bank: str
    bic: str
    account: str

    @property
    def is_iban(self) -> bool:
        return _IBAN.fullmatch(self.account) is not None


@dataclass(frozen=True, slots=True, kw_only=True)
class Operator:
    """One operator; `placeholders` names the facts that are documented fictitious values."""

    id: str
    legal_name: str
    english_name: str | None
    short_name: str
    tax_code: str
    bank_account: BankAccount
    placeholders: frozenset[str]
    sources: tuple[str, ...]

    def is_placeholder(self, fact: str) -> bool:
        return fact in self.placeholders


class OperatorRegistry(Mapping[str, Operator]):
    """The operators of a file, by id, in the file's order, and the clearing house that pays
    them (None when the file names none)."""

    def __init__(
        self, operators: Iterable[Operator], *, clearing_house: Operator | None = None
    ) -> None:
        self._by_id = {operator.id: operator for operator in operators}
        self.clearing_house = clearing_house

    def __getitem__(self, operator_id: str) -> Operator:
        return self._by_id[operator_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def name(self, operator_id: str) -> str:
        """What statements and pages call the operator: its short name, or the id itself
        for an operator the registry does not know (a test feed's agency, say)."""
        found = self._by_id.get(operator_id)
        return operator_id if found is None else found.short_name

    def names(self) -> dict[str, str]:
        """Operator id -> short name, for everyone who displays them."""
        return {operator_id: o.short_name for operator_id, o in self._by_id.items()}

    def missing(self, operator_ids: Iterable[str]) -> list[str]:
        """The ids among `operator_ids` this registry does not know, sorted."""
        return sorted(set(operator_ids) - set(self._by_id))


def iban_ok(iban: str) -> bool:
    """ISO 13616's check: the IBAN, rotated and read as digits (A=10 ... Z=35), mod 97 is 1."""
    if _IBAN.fullmatch(iban) is None:
        return False
    rotated = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in rotated)) % 97 == 1


class _Reader:
    """Checks one entry's fields, raising OperatorFileError with the field's path."""

    def __init__(self, source: str, where: str, entry: Mapping[str, object]) -> None:
        self.source, self.where, self.entry = source, where, entry

    def fail(self, field: str, reason: str) -> OperatorFileError:
        return OperatorFileError(self.source, f"{self.where}.{field}", reason)

    def text(self, key: str, value: object | None = None, *, within: str | None = None) -> str:
        value = self.entry.get(key) if value is None else value
        field = key if within is None else f"{within}.{key}"
        if value is None:
            raise self.fail(field, "missing")
        if not isinstance(value, str) or not value.strip():
            raise self.fail(field, "must be non-empty text")
        if value != value.strip() or len(value) > MAX_TEXT or not value.isprintable():
            raise self.fail(
                field, f"must be printable text of at most {MAX_TEXT} characters, not padded"
            )
        return value

    def labels(self, key: str, valid: Callable[[str], bool], allowed: str) -> tuple[str, ...]:
        value = self.entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be an array of text")
        for item in value:
            if not valid(item):
                raise self.fail(key, f"{item!r} is not {allowed}")
        if len(set(value)) != len(value):
            raise self.fail(key, "lists an item twice")
        return tuple(value)


def _operator(source: str, where: str, entry: Mapping[str, object]) -> Operator:
    read = _Reader(source, where, entry)
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise read.fail(unknown[0], "unknown field")
    for key in _REQUIRED:
        if key not in entry:
            raise read.fail(key, "missing")
    operator_id = read.text("id")
    if _ID.fullmatch(operator_id) is None:
        raise read.fail("id", "must be 1-64 letters, digits or ._- starting with a letter or digit")
    placeholders = frozenset(
        read.labels("placeholders", PLACEHOLDER_FIELDS.__contains__,
                    f"a fact that may be a placeholder ({', '.join(sorted(PLACEHOLDER_FIELDS))})")
    )  # fmt: skip
    tax_code = read.text("tax_code")
    if _TAX_CODE.fullmatch(tax_code) is None:
        raise read.fail("tax_code", "must be a Vietnamese tax code: 10 digits, or 10-3 digits")
    _check_placeholder(read, "tax_code", "tax_code" in placeholders,
                       _PLACEHOLDER_TAX_CODE.fullmatch(tax_code) is not None,
                       "a placeholder tax code starts with 00")  # fmt: skip
    bank = _bank(read, entry.get("bank"))
    _check_placeholder(read, "bank", "bank" in placeholders, bank.bic == PLACEHOLDER_BIC,
                       f"a placeholder bank account is at bank {PLACEHOLDER_BIC}")  # fmt: skip
    english = entry.get("english_name")
    return Operator(
        id=operator_id,
        legal_name=read.text("legal_name"),
        english_name=None if english is None else read.text("english_name"),
        short_name=read.text("short_name"),
        tax_code=tax_code,
        bank_account=bank,
        placeholders=placeholders,
        sources=read.labels("sources", _is_source, "a source label of README.md (e.g. K, OP1)"),
    )


def _is_source(label: str) -> bool:
    return _SOURCE.fullmatch(label) is not None


def _check_placeholder(
    read: _Reader, field: str, declared: bool, looks_fictitious: bool, rule: str
) -> None:
    if declared and not looks_fictitious:
        raise read.fail(field, f"is declared a placeholder but looks real ({rule})")
    if looks_fictitious and not declared:
        raise read.fail(field, f"looks fictitious; list it in placeholders ({rule})")


def _bank(read: _Reader, value: object) -> BankAccount:
    if not isinstance(value, dict):
        raise read.fail("bank", "must be a table: { name, bic, account }")
    unknown = sorted(set(value) - _BANK_KEYS)
    if unknown:
        raise read.fail(f"bank.{unknown[0]}", "unknown field")
    name, bic, account = (read.text(key, value.get(key, ""), within="bank") for key in
                          ("name", "bic", "account"))  # fmt: skip
    if _BIC.fullmatch(bic) is None:
        raise read.fail("bank.bic", "must be a BIC: 8 or 11 letters and digits (e.g. BFTVVNVX)")
    if _DOMESTIC_ACCOUNT.fullmatch(account) is None and not iban_ok(account):
        raise read.fail(
            "bank.account", "must be a Vietnamese account number (6-19 digits) or a valid IBAN"
        )
    return BankAccount(bank=name, bic=bic, account=account)


def parse_operators(text: str, *, source: str = OPERATORS_FILE) -> OperatorRegistry:
    """The registry an operators file's `text` describes; `source` names it in errors."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise OperatorFileError(source, "", f"not valid TOML: {error}") from None
    unknown = sorted(set(document) - _TOP_KEYS)
    if unknown:
        raise OperatorFileError(source, unknown[0], "unknown field")
    raw = document.get("operators")
    if not isinstance(raw, list) or not raw:
        raise OperatorFileError(source, "operators", "must be a non-empty array of tables")
    operators: list[Operator] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"operators[{index}]"
        if not isinstance(entry, dict):
            raise OperatorFileError(source, where, "must be a table")
        operator = _operator(source, where, entry)
        if operator.id in seen:
            raise OperatorFileError(source, f"{where}.id", f"duplicate operator {operator.id!r}")
        seen.add(operator.id)
        operators.append(operator)
    house = document.get("clearing_house")
    if house is not None and not isinstance(house, dict):
        raise OperatorFileError(source, "clearing_house", "must be a table")
    clearing_house = None if house is None else _operator(source, "clearing_house", house)
    if clearing_house is not None and clearing_house.id in seen:
        raise OperatorFileError(
            source, "clearing_house.id", f"{clearing_house.id!r} is also an operator"
        )
    return OperatorRegistry(operators, clearing_house=clearing_house)


def load_operators(path: Path | None = None) -> OperatorRegistry:
    """The registry in `path`, by default the shipped `operators.toml`."""
    if path is None:
        path = data_path(OPERATORS_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise OperatorFileError(path.name, "", f"cannot read: {error}") from None
    return parse_operators(text, source=path.name)
