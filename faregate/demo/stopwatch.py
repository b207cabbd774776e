"""Where the demo's wall time goes, by part of the city: bench/city_day.py reads it for the
share of time in each part of the pipeline (devices deciding, uploads over HTTP into the
database, settling with pricing) and to find what to make faster."""

from __future__ import annotations

import time


class Stopwatch:
    """Laps of wall time summed by part: `lap(part)` counts the time since the previous lap
    (or the start) to `part`, so every second is counted once."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, part: str) -> None:
        now = time.perf_counter()
        self.seconds[part] = self.seconds.get(part, 0.0) + now - self._last
        self._last = now
