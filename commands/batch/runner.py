"""Run a JSON Lines command stream: every line its own transaction, every line a result."""

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from commands.batch.parsing import parse_command
from ledger.application.grant_ledger import GrantLedger
from ledger.application.outcome import Outcome
from schemas.errors import InternalError, LedgerError

log = logging.getLogger("grant_ledger.batch")


@dataclass(frozen=True, slots=True)
class LineResult:
    """The result of one input line."""

    line: int
    outcome: Outcome | None
    error: LedgerError | None

    @property
    def ok(self) -> bool:
        """True when the line's command is recorded (now or earlier)."""
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        """`{"line", "ok", "position"...}` or `{"line", "ok": false, "error": {...}}`."""
        if self.outcome is not None:
            return {
                "line": self.line,
                "ok": True,
                "position": self.outcome.position,
                "type": self.outcome.event_type,
                "aggregate_id": self.outcome.programme_id,
                "aggregate_version": self.outcome.aggregate_version,
                "duplicate": self.outcome.duplicate,
            }
        assert self.error is not None
        return {"line": self.line, "ok": False, "error": self.error.as_dict()}

    def as_text(self) -> str:
        """One readable line."""
        if self.outcome is not None:
            o = self.outcome
            verb = "already recorded" if o.duplicate else "recorded"
            return (
                f"line {self.line}: ok, {verb} {o.event_type} at position {o.position} "
                f"({o.programme_id} v{o.aggregate_version})"
            )
        assert self.error is not None
        e = self.error
        return f"line {self.line}: refused, {e.field}={e.value!r}: {e.message}"


def run_lines(ledger: GrantLedger, lines: Iterable[bytes]) -> Iterator[LineResult]:
    """Execute each non-blank line; a bad line is reported and the rest still run."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            outcome = ledger.execute(parse_command(raw))
        except LedgerError as error:
            yield LineResult(number, None, error)
        except Exception as error:
            log.exception("line %d: unexpected error", number)
            yield LineResult(
                number, None, InternalError("(line)", number, f"internal error: {error!r}")
            )
        else:
            yield LineResult(number, outcome, None)
