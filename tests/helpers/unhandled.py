"""Unhandled server errors as test failures: the problems middleware logs every error it could
only answer with a bare 500 (an exception no route or error table entry answers) on the
`faregate.api.problems` logger; `collect_unhandled()` gathers those records while a test runs
(the app in the test's loop or a server thread of the same process), so the fixture of
tests/conftest.py can fail the test that caused one instead of letting a 500 pass unseen.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

PROBLEMS_LOGGER = "faregate.api.problems"


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def collect_unhandled() -> Iterator[list[logging.LogRecord]]:
    """The unhandled-error records logged inside the block (a test that provokes one on
    purpose clears the list once it has checked it)."""
    collector = _Collector()
    logger = logging.getLogger(PROBLEMS_LOGGER)
    logger.addHandler(collector)
    try:
        yield collector.records
    finally:
        logger.removeHandler(collector)


def describe(records: list[logging.LogRecord]) -> str:
    lines = []
    for record in records:
        cause = record.exc_info[1] if record.exc_info else None
        lines.append(f"{record.getMessage()}: {cause!r}")
    return "; ".join(lines)
