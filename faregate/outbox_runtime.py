"""The outbox the configuration names (`Settings.outbox_url`, `--outbox`, `FAREGATE_OUTBOX`).

- unset: the file outbox in the data directory, `DATA_DIR/outbox.jsonl` (the embedded default);
- `file:PATH`: a file outbox at PATH.

An adapter that really sends (an SMS gateway, SMTP) is a new scheme here and a class with
`send` (`ticketing.outbox.protocol.Outbox`).
"""

from __future__ import annotations

from pathlib import Path

from faregate.config import Settings
from ticketing.errors import OutboxError
from ticketing.outbox.file import OUTBOX_FILE, FileOutbox

FILE_SCHEME = "file:"


def open_outbox(settings: Settings) -> FileOutbox:
    """The configured outbox; OutboxError for a setting that names none."""
    url = settings.outbox_url
    if not url:
        return FileOutbox(settings.data_dir / OUTBOX_FILE)
    if url.startswith(FILE_SCHEME) and url.removeprefix(FILE_SCHEME):
        return FileOutbox(Path(url.removeprefix(FILE_SCHEME)))
    raise OutboxError(f"outbox {url[:80]!r} is not one Faregate has; use file:PATH")
