"""File locks other processes wait for, as the kernel lists them (Linux /proc/locks).

A process blocked in flock(LOCK_EX) on a file shows as a "->" line naming the file's inode, so
a test can tell that processes queue for a lock, rather than hoping a sleep was long enough.
"""

from __future__ import annotations

import os
from pathlib import Path


def lock_waiters(path: Path) -> int:
    """How many processes wait for a lock on `path`."""
    inode = os.stat(path).st_ino
    lines = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in lines if "->" in line and f":{inode} " in line)
