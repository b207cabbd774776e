"""Report tables as Excel workbooks (XLSX, openpyxl), beside their CSV and JSON twins.

One sheet per table, with the CSV's columns in the CSV's order and a header row, so an
import mapping made for the CSV reads the workbook too; amounts are numbers (not text), with
a thousands separator, and the header row stays in view. Nothing else: no totals rows, merged
cells or formulas that an import would have to skip.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

AMOUNT_FORMAT = "#,##0"
MAX_SHEET_TITLE = 31  # Excel's limit
MAX_WIDTH = 60
CellValue = str | int | float | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Sheet:
    """A table: `rows` are mappings by column name; `amounts` names the integer money columns."""

    title: str
    columns: Sequence[str]
    rows: Iterable[Mapping[str, object]]
    amounts: Collection[str] = field(default_factory=frozenset)


def _value(value: object) -> CellValue:
    if value is None or isinstance(value, str | int | float):
        return value
    return str(value)  # a date, a decimal: as its text, the way the CSV writes it


def workbook(sheets: Sequence[Sheet], *, created: datetime) -> bytes:
    """The XLSX file of `sheets`; `created` is written as the workbook's creation time."""
    # Imported here, not above: openpyxl costs about 0.1 s of CPU to import, and every server
    # start imports this module (the finance pages name the reports) without writing one.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    book.properties.creator = "Faregate"
    book.properties.created = created.replace(tzinfo=None)
    book.properties.modified = created.replace(tzinfo=None)
    bold = Font(bold=True)
    for sheet in sheets:
        page = book.create_sheet(sheet.title[:MAX_SHEET_TITLE])
        page.append(list(sheet.columns))
        for cell in page[1]:
            cell.font = bold
        widths = [len(column) for column in sheet.columns]
        for row in sheet.rows:
            values = [_value(row.get(column)) for column in sheet.columns]
            page.append(values)
            widths = [max(w, len(str(v or ""))) for w, v in zip(widths, values, strict=True)]
        for index, column in enumerate(sheet.columns, start=1):
            if column in sheet.amounts:
                for (cell,) in page.iter_rows(min_row=2, min_col=index, max_col=index):
                    cell.number_format = AMOUNT_FORMAT
            page.column_dimensions[get_column_letter(index)].width = min(
                widths[index - 1] + 2, MAX_WIDTH
            )
        page.freeze_panes = "A2"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
