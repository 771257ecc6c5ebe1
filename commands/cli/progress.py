"""The CLI's progress bar on stderr for terminals (events, events/s, percent, ETA) and a summary."""

from __future__ import annotations

import sys
import time
from typing import TextIO

BAR_WIDTH = 28
REFRESH_S = 0.1


def _count(value: float) -> str:
    """1234567 -> '1 234 567' (Swedish grouping, like the money)."""
    return f"{int(value):,}".replace(",", " ")


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds + 0.5), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class TerminalProgress:
    """Redraws one line while work goes on (only on a TTY); always ends with a summary line.

    A ProgressReport (projections/domain/progress.py) for the read side's long work.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        stream: TextIO | None = None,
        enabled: bool | None = None,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.done = 0
        self._drawn_at = 0.0

    def update(self, done: int, total: int | None = None) -> None:
        """Record progress; redraw at most every REFRESH_S."""
        self.done = done
        if total is not None:
            self.total = total
        now = time.monotonic()
        if self.enabled and now - self._drawn_at >= REFRESH_S:
            self._drawn_at = now
            self.stream.write("\r" + self.line(now) + "\x1b[K")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        """The bar as text."""
        elapsed = max((now or time.monotonic()) - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            share = min(self.done / self.total, 1.0)
            filled = int(share * BAR_WIDTH)
            remaining = (self.total - self.done) / rate if rate > 0 else 0.0
            return (
                f"{self.label} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {share * 100:5.1f}% "
                f"{_count(self.done)}/{_count(self.total)} events {_count(rate)} ev/s "
                f"ETA {_duration(max(remaining, 0.0))}"
            )
        return f"{self.label} {_count(self.done)} events {_count(rate)} ev/s {_duration(elapsed)}"

    def finish(self, summary: str) -> float:
        """Clear the bar and print the one-line summary; returns the elapsed seconds."""
        elapsed = time.monotonic() - self.started
        if self.enabled:
            self.stream.write("\r\x1b[K")
        self.stream.write(f"{summary}\n")
        self.stream.flush()
        return elapsed
