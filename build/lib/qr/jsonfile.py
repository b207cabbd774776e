"""The JSON files `qr` keeps (keys, credentials, deny lists, gate state): read and write them."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from qr.errors import QRError


def read_json(path: Path, error: type[QRError]) -> Any:
    """The document in `path`; `error` when it is not JSON. A missing file raises as `open` does."""
    try:
        with path.open(encoding="utf-8") as src:
            return json.load(src)
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON: {exc}") from exc


def write_json(path: Path, doc: object, mode: int = 0o644) -> None:
    """Replace `path` atomically: a crash leaves the old file or the new one, never half of it."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(doc, out, indent=2)
        out.write("\n")
        out.flush()
        os.fsync(out.fileno())
    os.chmod(tmp, mode)  # O_CREAT's mode is filtered by the umask and ignored for an old file
    os.replace(tmp, path)
