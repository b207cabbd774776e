"""Reading a feed's CSV tables from a folder or a zip, row by row, with line numbers for errors.

Values are stripped; empty cells read as "". Unknown columns are kept in the row and ignored by
the parsers, so producers may add their own columns freely.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ticketing.errors import CurrencyError
from ticketing.gtfs.errors import FeedError, FeedWarning
from ticketing.money import Money, currency_exponent


@dataclass(frozen=True, slots=True)
class Row:
    """One data row of a table: its file, physical line number and cells by column name."""

    file: str
    line: int
    cells: dict[str, str]

    def error(self, reason: str) -> FeedError:
        return FeedError(self.file, self.line, reason)

    def get(self, column: str) -> str:
        """The cell, or "" when empty or the column is absent (optional fields)."""
        return self.cells.get(column, "")

    def optional(self, column: str) -> str | None:
        return self.get(column) or None

    def required(self, column: str) -> str:
        value = self.get(column)
        if not value:
            raise self.error(f"{column} is required")
        return value

    def integer(self, column: str, *, default: int | None = None) -> int | None:
        text = self.get(column)
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            raise self.error(f'{column} "{text}" is not an integer') from None

    def enum(
        self, column: str, allowed: tuple[int, ...], *, default: int | None = None
    ) -> int | None:
        value = self.integer(column, default=default)
        if value is not None and value not in allowed:
            raise self.error(f"{column} {value} is not one of {', '.join(map(str, allowed))}")
        return value

    def count_beyond(self, column: str, listed: tuple[int, ...]) -> int | None:
        """A non-negative count whose reference values are `listed`: a larger one is read as
        it says with a FeedWarning (real feeds carry them); a negative one is an error."""
        value = self.integer(column)
        if value is not None and value < 0:
            raise self.error(f"{column} {value} is not a count")
        if value is not None and value not in listed:
            warnings.warn(
                FeedWarning(
                    self.file,
                    self.line,
                    f"{column} {value} is beyond the reference's {', '.join(map(str, listed))}; "
                    f"read as {value}",
                ),
                stacklevel=2,
            )
        return value

    def currency(self, column: str) -> str:
        code = self.required(column)
        try:
            currency_exponent(code)
        except CurrencyError:
            raise self.error(f'{column} "{code}" is not a supported currency') from None
        return code

    def major_amount(self, column: str, currency: str) -> Money:
        """A GTFS currency amount in major units ("4.25" USD) as Money in minor units (425)."""
        text = self.required(column)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise self.error(f'{column} "{text}" is not a number') from None
        if not value.is_finite():
            raise self.error(f'{column} "{text}" is not a number')
        # Feeds often pad decimals ("4.2500"); only genuinely sub-minor amounts are refused.
        try:
            return Money.from_major(value.normalize(), currency)
        except CurrencyError:
            raise self.error(
                f'{column} "{text}" has more decimals than {currency} allows'
            ) from None

    def minor_amount(self, column: str, currency: str) -> Money:
        """An amount already in integer minor units (our extension files)."""
        text = self.required(column)
        try:
            return Money(int(text), currency)
        except ValueError:
            raise self.error(f'{column} "{text}" is not an integer amount of minor units') from None

    def gtfs_date(self, column: str) -> date:
        text = self.required(column)
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise self.error(f'{column} "{text}" is not a date (YYYYMMDD)') from None

    def seconds_of_day(self, column: str, *, default: int) -> int:
        """A GTFS time (H:MM:SS, hours may exceed 23) as seconds after midnight."""
        text = self.get(column)
        if not text:
            return default
        parts = text.split(":")
        if len(parts) != 3 or not all(part.isascii() and part.isdigit() for part in parts):
            raise self.error(f'{column} "{text}" is not a time (HH:MM:SS)')
        hours, minutes, seconds = (int(part) for part in parts)
        if minutes >= 60 or seconds >= 60:
            raise self.error(f'{column} "{text}" is not a time (HH:MM:SS)')
        return hours * 3600 + minutes * 60 + seconds


class FeedSource:
    """The text files of a feed, from a folder or a zip archive (files may sit in one subfolder)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._files: dict[str, bytes] = {}
        if self.path.is_dir():
            for file in self.path.iterdir():
                if file.suffix == ".txt" and file.is_file():
                    self._files[file.name] = file.read_bytes()
        elif self.path.is_file():
            try:
                with zipfile.ZipFile(self.path) as archive:
                    for info in archive.infolist():
                        name = info.filename.rsplit("/", 1)[-1]
                        if name.endswith(".txt") and not info.is_dir():
                            self._files.setdefault(name, archive.read(info))
            except zipfile.BadZipFile:
                raise FeedError(
                    self.path.name, None, "is neither a folder nor a zip archive"
                ) from None
        else:
            raise FeedError(str(self.path), None, "no such feed folder or zip file")

    def has(self, name: str) -> bool:
        return name in self._files

    def header(self, name: str) -> tuple[str, ...]:
        return tuple(self._reader(name)[1])

    def rows(self, name: str, required: tuple[str, ...] = ()) -> Iterator[Row]:
        """Rows of `name` (nothing if the file is absent); a missing required column fails."""
        if name not in self._files:
            return
        reader, header = self._reader(name)
        for column in required:
            if column not in header:
                raise FeedError(name, 1, f"missing required column {column}")
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if any(cell.strip() for cell in record[len(header) :]):
                raise FeedError(
                    name, reader.line_num, f"{len(record)} cells but the header has {len(header)}"
                )
            cells = {column: cell.strip() for column, cell in zip(header, record, strict=False)}
            yield Row(name, reader.line_num, cells)

    def _reader(self, name: str) -> tuple[_LineReader, list[str]]:
        try:
            text = self._files[name].decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FeedError(name, None, f"is not UTF-8 ({exc.reason})") from None
        reader = _LineReader(name, text)
        try:
            header = [column.strip() for column in next(reader)]
        except StopIteration:
            raise FeedError(name, 1, "empty file: no header") from None
        return reader, header


class _LineReader:
    """csv.reader that reports the physical line of the record it last returned."""

    def __init__(self, name: str, text: str) -> None:
        self._name = name
        self._reader = csv.reader(io.StringIO(text, newline=""))
        self._next_start = 1
        self.line_num = 0

    def __iter__(self) -> _LineReader:
        return self

    def __next__(self) -> list[str]:
        self.line_num = self._next_start
        try:
            record = next(self._reader)
        except csv.Error as exc:
            raise FeedError(self._name, self.line_num, f"bad CSV: {exc}") from None
        self._next_start = self._reader.line_num + 1
        return record
