"""The general-ledger journal of a service day: every posting the ledger recorded that day,
one line per posting line, each on the general-ledger account the chart of accounts maps its
ledger account to (docs/SETTLEMENT.md, "Exports").

A day's journal holds the postings *recorded* in the service day (04:00 to 04:00 Hanoi time),
dated as recorded, so every posting is in exactly one day's journal: a daily charge made when
a day is settled is in the journal of the day it was made, with the posting's own time
(`occurred_at`) beside it. Each posting's lines balance (its debits equal its credits per
currency), as the ledger requires of every posting; `balances` checks a journal by posting.

Pure: postings in, lines and CSV text out.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from faregate_data.chart_of_accounts import GeneralLedgerAccount
from ticketing.ledger.accounts import parse_code
from ticketing.ledger.postings import Posting
from ticketing.money import Money
from ticketing.settlement.errors import UnmappedLedgerAccount

JOURNAL_COLUMNS = (
    "journal_day", "posting_id", "line", "recorded_at", "occurred_at", "gl_account", "gl_name",
    "ledger_account", "sub_account", "currency", "debit", "credit", "description",
)  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordedPosting:
    """A posting as the ledger holds it, with when it was recorded."""

    posting: Posting
    recorded_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class JournalLine:
    """One posting line on its general-ledger account; exactly one of debit and credit is
    non-zero (major units of `currency`, e.g. đồng)."""

    journal_day: date
    posting_id: str
    line: int  # 1-based within the posting
    recorded_at: datetime
    occurred_at: datetime
    gl_account: str
    gl_name: str
    ledger_account: str
    sub_account: str  # the owner the ledger account names: rider account, operator, gateway
    currency: str
    debit: Decimal
    credit: Decimal
    description: str


def journal_lines(
    day: date,
    postings: Iterable[RecordedPosting],
    chart: Mapping[str, GeneralLedgerAccount],
) -> tuple[JournalLine, ...]:
    """The journal lines of `postings` (recorded on `day`), by recording time then posting
    id, each posting's lines debits first, then by ledger account."""
    lines: list[JournalLine] = []
    for recorded in sorted(postings, key=lambda r: (r.recorded_at, r.posting.id)):
        posting = recorded.posting
        entries = sorted(posting.entries, key=lambda e: (e.amount.amount < 0, e.account))
        for number, entry in enumerate(entries, start=1):
            ref = parse_code(entry.account)
            account = chart.get(ref.kind.value)
            if account is None:
                raise UnmappedLedgerAccount(
                    f"the chart of accounts maps no {ref.kind.value!r} account "
                    f"(posting {posting.id}, {entry.account})"
                )
            major = Money(abs(entry.amount.amount), entry.amount.currency).to_major()
            lines.append(
                JournalLine(
                    journal_day=day,
                    posting_id=posting.id,
                    line=number,
                    recorded_at=recorded.recorded_at,
                    occurred_at=posting.occurred_at,
                    gl_account=account.number,
                    gl_name=account.name,
                    ledger_account=entry.account,
                    sub_account=ref.owner,
                    currency=entry.amount.currency,
                    debit=major if entry.amount.amount > 0 else Decimal(0),
                    credit=major if entry.amount.amount < 0 else Decimal(0),
                    description=posting.description,
                )
            )
    return tuple(lines)


def balances(lines: Sequence[JournalLine]) -> dict[tuple[str, str], Decimal]:
    """Debits less credits per (posting, currency) that do not balance: empty when every
    posting of the journal balances."""
    net: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for line in lines:
        net[(line.posting_id, line.currency)] += line.debit - line.credit
    return {key: value for key, value in net.items() if value != 0}


def journal_csv(lines: Sequence[JournalLine]) -> str:
    """The journal as CSV (JOURNAL_COLUMNS; times in UTC, RFC 3339; amounts in major units,
    the empty side blank)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(JOURNAL_COLUMNS)
    for line in lines:
        writer.writerow(
            [
                line.journal_day.isoformat(),
                line.posting_id,
                line.line,
                line.recorded_at.astimezone(UTC).isoformat(),
                line.occurred_at.astimezone(UTC).isoformat(),
                line.gl_account,
                line.gl_name,
                line.ledger_account,
                line.sub_account,
                line.currency,
                line.debit if line.debit else "",
                line.credit if line.credit else "",
                line.description,
            ]
        )
    return buffer.getvalue()
