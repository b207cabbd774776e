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
import enum
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


class Report(enum.StrEnum):
    """Every file a run writes, by name, in the order finance sees them: what finance may
    download, and nothing else."""

    STATEMENTS_XLSX = "statements.xlsx"
    STATEMENTS_CSV = "statements.csv"
    STATEMENTS_JSON = "statements.json"
    EXCEPTIONS_XLSX = "exceptions.xlsx"
    EXCEPTIONS_CSV = "exceptions.csv"
    EXCEPTIONS_JSON = "exceptions.json"
    JOURNAL_CSV = "journal.csv"
    PAYOUTS_XML = "payouts.xml"
    CONTROLS_JSON = "controls.json"
    SETTLEMENT_JSON = "settlement.json"
    HTML = "report.html"

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.value.rsplit(".", 1)[1]]

    @property
    def label(self) -> str:
        """What the finance page calls its link."""
        return _LABELS[self]


_CONTENT_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "html": "text/html",
    "xml": "application/xml",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_LABELS = {
    Report.STATEMENTS_XLSX: "Operator statements (Excel)",
    Report.STATEMENTS_CSV: "Operator statements (CSV)",
    Report.STATEMENTS_JSON: "Operator statements (JSON)",
    Report.EXCEPTIONS_XLSX: "Exceptions (Excel)",
    Report.EXCEPTIONS_CSV: "Exceptions (CSV)",
    Report.EXCEPTIONS_JSON: "Exceptions (JSON)",
    Report.JOURNAL_CSV: "General-ledger journal (CSV)",
    Report.PAYOUTS_XML: "Operator payouts (ISO 20022 pain.001 XML)",
    Report.CONTROLS_JSON: "Controls (JSON)",
    Report.SETTLEMENT_JSON: "Every settled figure and the digest (JSON)",
    Report.HTML: "Settlement report (HTML)",
}
REPORT_TYPES = {str(report): report.content_type for report in Report}


@dataclass(frozen=True, slots=True)
class ReportFiles:
    """Where a run wrote its reports, and the payouts it wrote."""

    directory: Path
    payouts: Payouts

    def path(self, report: Report) -> Path:
        return self.directory / report

    @property
    def html(self) -> Path:
        return self.path(Report.HTML)


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
        payouts=payouts(
            day=settled.day,
            currency=settled.currency,
            digest=digest,
            payees=[Payee(operator_id=s.operator_id, net=s.net) for s in settled.statements],
            registry=registry,
            created_at=written_at,
        ),
    )
    contents: dict[Report, bytes | str] = {
        Report.STATEMENTS_XLSX: workbook(
            [Sheet(title="Statements", columns=STATEMENT_COLUMNS, rows=statements,
                   amounts=STATEMENT_AMOUNTS)],
            created=written_at,
        ),
        Report.STATEMENTS_CSV: _csv(STATEMENT_COLUMNS, statements),
        Report.STATEMENTS_JSON: _json(statements),
        Report.EXCEPTIONS_XLSX: workbook(
            [Sheet(title="Exceptions", columns=EXCEPTION_COLUMNS, rows=exceptions,
                   amounts=EXCEPTION_AMOUNTS)],
            created=written_at,
        ),
        Report.EXCEPTIONS_CSV: _csv(EXCEPTION_COLUMNS, exceptions),
        Report.EXCEPTIONS_JSON: _json(exceptions),
        Report.JOURNAL_CSV: journal_csv(journal),
        Report.PAYOUTS_XML: files.payouts.xml,
        Report.CONTROLS_JSON: _json(figures["controls"]),
        Report.SETTLEMENT_JSON: _json({**figures, "digest": digest}),
        Report.HTML: render_html(settled, digest=digest, operator_names=names),
    }  # fmt: skip
    for report in Report:
        body = contents[report]
        _write(files.path(report), body.encode("utf-8") if isinstance(body, str) else body)
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


def _write(path: Path, body: bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(body)
    os.replace(partial, path)
