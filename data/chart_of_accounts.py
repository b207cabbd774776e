"""The chart-of-accounts mapping the general-ledger journal uses, read from
`chart_of_accounts.toml`.

    chart = load_chart()                      # the shipped data/chart_of_accounts.toml
    chart["operator"].number                  # '331'

An entry per kind of ledger account (`[accounts.<kind>]` with `number` and `name`). Reading is
pure (`parse_chart`); which kinds must be mapped is the ledger's business (the journal refuses
a posting line on an unmapped kind), so this module only checks the file's shape. Any error
names the file, the field and the reason.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from faregate_data import data_path
from faregate_data.errors import ChartFileError

CHART_FILE = "chart_of_accounts.toml"
_KIND = re.compile(r"[a-z][a-z-]{0,31}")
_NUMBER = re.compile(r"[0-9A-Za-z][0-9A-Za-z.-]{0,19}")
MAX_NAME = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class GeneralLedgerAccount:
    """An account of the general ledger: its number and its name."""

    number: str
    name: str


def parse_chart(text: str, *, source: str = CHART_FILE) -> dict[str, GeneralLedgerAccount]:
    """Ledger account kind -> general-ledger account, from a chart file's `text`."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ChartFileError(source, "", f"not valid TOML: {error}") from None
    unknown = sorted(set(document) - {"accounts"})
    if unknown:
        raise ChartFileError(source, unknown[0], "unknown field")
    accounts = document.get("accounts")
    if not isinstance(accounts, dict) or not accounts:
        raise ChartFileError(source, "accounts", "must be a non-empty table of account kinds")
    chart: dict[str, GeneralLedgerAccount] = {}
    for kind, entry in accounts.items():
        where = f"accounts.{kind}"
        if _KIND.fullmatch(kind) is None:
            raise ChartFileError(source, where, "is not a ledger account kind (e.g. operator)")
        if not isinstance(entry, dict):
            raise ChartFileError(source, where, "must be a table: { number, name }")
        extra = sorted(set(entry) - {"number", "name"})
        if extra:
            raise ChartFileError(source, f"{where}.{extra[0]}", "unknown field")
        number, name = entry.get("number"), entry.get("name")
        if not isinstance(number, str) or _NUMBER.fullmatch(number) is None:
            raise ChartFileError(
                source, f"{where}.number", "must be 1-20 letters, digits, '.' or '-'"
            )
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise ChartFileError(
                source, f"{where}.name", f"must be non-empty text of at most {MAX_NAME} characters"
            )
        chart[kind] = GeneralLedgerAccount(number=number, name=name)
    return chart


def load_chart(path: Path | None = None) -> dict[str, GeneralLedgerAccount]:
    """The chart in `path`, by default the shipped `chart_of_accounts.toml`."""
    if path is None:
        path = data_path(CHART_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ChartFileError(path.name, "", f"cannot read: {error}") from None
    return parse_chart(text, source=path.name)
