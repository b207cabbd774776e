"""Writing a settled day's reports: the only settlement module that touches files.

Into one directory: statements.csv/.json, exceptions.csv/.json (open exceptions with their
age), controls.json, settlement.json (every settled figure plus the digest) and report.html.
Each file is written beside its final name and renamed into place, so a crash never leaves a
half-written report for finance to read.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ticketing.settlement.controls import SettledDay, exception_figures
from ticketing.settlement.report import render_html

STATEMENT_COLUMNS = (
    "day", "operator", "operator_name", "currency", "rides", "gross", "discounts", "revenue",
    "refunds", "fees", "net",
)  # fmt: skip
EXCEPTION_COLUMNS = (
    "key", "category", "side", "currency", "amount", "suspense", "ledger_ref", "gateway_ref",
    "charge_key", "ledger_amount", "gateway_amount", "record_day", "first_seen", "age_days",
)  # fmt: skip
# Every file a run writes, by name, with its content type (what finance may download).
REPORT_TYPES = {
    "statements.csv": "text/csv",
    "statements.json": "application/json",
    "exceptions.csv": "text/csv",
    "exceptions.json": "application/json",
    "controls.json": "application/json",
    "settlement.json": "application/json",
    "report.html": "text/html",
}


@dataclass(frozen=True, slots=True)
class ReportFiles:
    directory: Path
    statements_csv: Path
    statements_json: Path
    exceptions_csv: Path
    exceptions_json: Path
    controls_json: Path
    settlement_json: Path
    html: Path


def write_reports(
    settled: SettledDay, directory: Path, *, operator_names: Mapping[str, str] | None = None
) -> ReportFiles:
    """Every report of `settled` into `directory` (created if missing); returns the paths.
    Statements carry each operator's name from `operator_names` (id -> name) beside its id;
    the HTML report shows names only."""
    directory.mkdir(parents=True, exist_ok=True)
    figures = settled.figures()
    digest = settled.digest()
    names = operator_names or {}
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
        exceptions_csv=directory / "exceptions.csv",
        exceptions_json=directory / "exceptions.json",
        controls_json=directory / "controls.json",
        settlement_json=directory / "settlement.json",
        html=directory / "report.html",
    )
    _write(files.statements_csv, _csv(STATEMENT_COLUMNS, statements))
    _write(files.statements_json, _json(statements))
    _write(files.exceptions_csv, _csv(EXCEPTION_COLUMNS, exceptions))
    _write(files.exceptions_json, _json(exceptions))
    _write(files.controls_json, _json(figures["controls"]))
    _write(files.settlement_json, _json({**figures, "digest": digest}))
    _write(files.html, render_html(settled, digest=digest, operator_names=names))
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
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
