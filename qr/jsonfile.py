"""The JSON files `qr` keeps (keys, credentials, deny lists, gate state): read and write them.

Whatever is wrong with a file (missing, unreadable, not JSON, nested past the parser's depth)
comes out as the caller's QRError subclass, with the path in the message.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from qr.errors import OutputError, QRError


def read_json(path: Path, error: type[QRError], missing: str = "") -> Any:
    """The document in `path`; `error` when it cannot be read or is not JSON.

    `missing` is added to the message when the file does not exist (a hint what makes it).
    """
    try:
        with path.open(encoding="utf-8") as src:
            return json.load(src)
    except FileNotFoundError:
        raise error(f"{path} not found{missing}") from None
    except OSError as exc:
        raise error(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise error(f"{path} is not UTF-8 text: {exc.reason}") from None
    except json.JSONDecodeError as exc:
        raise error(f"{path} is not valid JSON: {exc}") from None
    except RecursionError:
        raise error(f"{path} is nested too deeply to be one of our documents") from None


def write_json(
    path: Path, doc: object, mode: int = 0o644, error: type[QRError] = OutputError
) -> None:
    """Replace `path` atomically: a crash leaves the old file or the new one, never half of it.

    The temporary file has a name of its own, so two writers never share one.
    """
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)  # mkstemp makes 0600; the mode asked for is set before it shows
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
