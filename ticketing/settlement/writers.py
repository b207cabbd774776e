"""Writing a settled day's reports: the only settlement module that touches files.

Into one directory: statements.csv/.json/.xlsx, exceptions.csv/.json/.xlsx (open exceptions
with their age), controls.json, settlement.json (every settled figure plus the digest),
report.html, and what an accounting team imports: journal.csv (the general-ledger journal of
the day, `ticketing.settlement.journal`) and payouts.xml (the operators' payouts as an ISO
20022 pain.001 credit transfer initiation, `ticketing.settlement.payouts`). Each file is
written beside its final name and renamed into place, so a crash never leaves a half-written
report for finance to read.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from faregate_data.operators import OperatorRegistry
from ticketing.settlement.controls import SettledDay, exception_figures
from ticketing.settlement.journal import JournalLine, journal_csv
from ticketing.settlement.payouts import Payee, Payouts, payouts
from ticketing.settlement.report import render_html
from ticketing.settlement.workbook import Sheet, workbook

STATEMENT_COLUMNS = (
    "day", "operator", "operator_name", "currency", "rides", "gross", "discounts", "revenue",
    "refunds", "fees", "net",
)  # fmt: skip
EXCEPTION_COLUMNS = (
    "key", "category", "side", "currency", "amount", "suspense", "ledger_ref", "gateway_ref",
    "charge_key", "ledger_amount", "gateway_amount", "record_day", "first_seen", "age_days",
)  # fmt: skip
STATEMENT_AMOUNTS = frozenset({"gross", "discounts", "revenue", "refunds", "fees", "net"})
EXCEPTION_AMOUNTS = frozenset({"amount", "suspense", "ledger_amount", "gateway_amount"})
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Every file a run writes, by name, with its content type (what finance may download).
REPORT_TYPES = {
    "statements.csv": "text/csv",
    "statements.json": "application/json",
    "statements.xlsx": XLSX,
    "exceptions.csv": "text/csv",
    "exceptions.json": "application/json",
    "exceptions.xlsx": XLSX,
    "controls.json": "application/json",
    "settlement.json": "application/json",
    "report.html": "text/html",
    "journal.csv": "text/csv",
    "payouts.xml": "application/xml",
}


@dataclass(frozen=True, slots=True)
class ReportFiles:
    directory: Path
    statements_csv: Path
    statements_json: Path
    statements_xlsx: Path
    exceptions_csv: Path
    exceptions_json: Path
    exceptions_xlsx: Path
    controls_json: Path
    settlement_json: Path
    html: Path
    journal_csv: Path
    payouts_xml: Path
    payouts: Payouts


def write_reports(
    settled: SettledDay,
    directory: Path,
    *,
    registry: OperatorRegistry,
    journal: Sequence[JournalLine],
    written_at: datetime,
) -> ReportFiles:
    """Every report of `settled` into `directory` (created if missing); returns the paths.
    Statements carry each operator's name from the operator `registry` beside its id (the id
    itself for one it lacks); the HTML report shows names only; the payouts pay the bank
    accounts it holds, from its clearing house's. `journal` is the day's general-ledger
    journal; `written_at` dates the workbooks and the payouts file."""
    directory.mkdir(parents=True, exist_ok=True)
    figures = settled.figures()
    digest = settled.digest()
    names: Mapping[str, str] = registry.names()
    statements = [
        {
            "day": figures["day"],
            "currency": settled.currency,
            "operator_name": names.get(row["operator"], row["operator"]),
            **row,
        }
        for row in figures["statements"]
    ]
    exceptions = [exception_figures(e, settled.day) for e in settled.open_exceptions]
    files = ReportFiles(
        directory=directory,
        statements_csv=directory / "statements.csv",
        statements_json=directory / "statements.json",
        statements_xlsx=directory / "statements.xlsx",
        exceptions_csv=directory / "exceptions.csv",
        exceptions_json=directory / "exceptions.json",
        exceptions_xlsx=directory / "exceptions.xlsx",
        controls_json=directory / "controls.json",
        settlement_json=directory / "settlement.json",
        html=directory / "report.html",
        journal_csv=directory / "journal.csv",
        payouts_xml=directory / "payouts.xml",
        payouts=payouts(
            day=settled.day,
            currency=settled.currency,
            digest=digest,
            payees=[Payee(operator_id=s.operator_id, net=s.net) for s in settled.statements],
            registry=registry,
            created_at=written_at,
        ),
    )
    _write(files.statements_csv, _csv(STATEMENT_COLUMNS, statements))
    _write(files.statements_json, _json(statements))
    _write_bytes(
        files.statements_xlsx,
        workbook(
            [Sheet(title="Statements", columns=STATEMENT_COLUMNS, rows=statements,
                   amounts=STATEMENT_AMOUNTS)],
            created=written_at,
        ),
    )  # fmt: skip
    _write(files.exceptions_csv, _csv(EXCEPTION_COLUMNS, exceptions))
    _write(files.exceptions_json, _json(exceptions))
    _write_bytes(
        files.exceptions_xlsx,
        workbook(
            [Sheet(title="Exceptions", columns=EXCEPTION_COLUMNS, rows=exceptions,
                   amounts=EXCEPTION_AMOUNTS)],
            created=written_at,
        ),
    )  # fmt: skip
    _write(files.controls_json, _json(figures["controls"]))
    _write(files.settlement_json, _json({**figures, "digest": digest}))
    _write(files.html, render_html(settled, digest=digest, operator_names=names))
    _write(files.journal_csv, journal_csv(journal))
    _write_bytes(files.payouts_xml, files.payouts.xml)
    return files


def _csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: "" if row[column] is None else row[column] for column in columns})
    return buffer.getvalue()


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, body: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(body)
    os.replace(partial, path)
