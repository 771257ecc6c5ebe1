"""How long read-side work (a rebuild, a catch-up) reports how far it got.

The work knows counts, not terminals: the CLI passes a bar that draws them
(commands/cli/progress.py); anything with this method will do.
"""

from typing import Protocol


class ProgressReport(Protocol):
    """Told the events done so far, and the total once it is known."""

    def update(self, done: int, total: int | None = None) -> None:
        """Record progress; `total` when it becomes known."""
