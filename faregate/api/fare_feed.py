"""The fare feed as devices fetch it: the feed's files and a version that changes with them.

The feed is loaded and validated once at startup (`ticketing.fares.feed.load_feed`, so a broken
feed stops the server instead of reaching gates). The version is the SHA-256 of the files'
names and contents; it is the ETag, so a device asking with `If-None-Match` gets a 304 until
the feed changes.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import msgspec

from ticketing.fares.feed import load_feed


class FareFeedDocument(msgspec.Struct, kw_only=True):
    """A GTFS fare feed: `files` maps each file name to its text."""

    version: str
    files: dict[str, str]


def _read_files(path: Path) -> dict[str, str]:
    if path.is_dir():
        return {f.name: f.read_text(encoding="utf-8") for f in sorted(path.glob("*.txt"))}
    with zipfile.ZipFile(path) as archive:
        return {
            name: archive.read(name).decode("utf-8")
            for name in sorted(archive.namelist())
            if name.endswith(".txt") and "/" not in name
        }


def load_fare_feed_document(path: Path) -> FareFeedDocument:
    """Validate the feed at `path` (folder or zip) and return what devices are sent."""
    load_feed(path)
    files = _read_files(path)
    digest = hashlib.sha256()
    for name, text in files.items():
        for part in (name, text):
            encoded = part.encode("utf-8")
            digest.update(len(encoded).to_bytes(8, "big") + encoded)
    return FareFeedDocument(version=digest.hexdigest()[:32], files=files)
