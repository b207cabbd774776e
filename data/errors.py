"""The errors of `faregate_data`: a shipped file that is missing or does not read."""

from __future__ import annotations


class MissingDataError(LookupError):
    """A shipped data file or folder is not where the installed package should have it."""


class DataFileError(ValueError):
    """A shipped data file that cannot be used: `file`, `field` (e.g. `operators[2].tax_code`)
    and `reason`, all in the message."""

    def __init__(self, file: str, field: str, reason: str) -> None:
        where = f"{file}: {field}" if field else file
        super().__init__(f"{where}: {reason}")
        self.file = file
        self.field = field
        self.reason = reason


class OperatorFileError(DataFileError):
    """An operators file that cannot be used."""


class ChartFileError(DataFileError):
    """A chart-of-accounts file that cannot be used."""
