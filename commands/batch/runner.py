"""Run a JSON Lines command stream: every line its own transaction, every line a result."""

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from commands.batch.parsing import CommandParseError, decode_command_object, validate_command
from ledger.application.grant_ledger import GrantLedger
from ledger.application.outcome import Outcome
from ledger.domain.errors import LedgerError
from schemas.commands import CommandBase

log = logging.getLogger("grant_ledger.batch")

# Rewrites a decoded line before validation (line number, object); may refuse the whole batch.
Prepare = Callable[[int, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One non-blank input line: its command, or why it is not one."""

    line: int
    command: CommandBase | None
    error: LedgerError | None


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


def parse_lines(lines: Iterable[bytes], prepare: Prepare | None = None) -> Iterator[ParsedLine]:
    """Each non-blank line as a command or a parse refusal; `prepare` errors propagate."""
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = decode_command_object(raw)
            if prepare is not None:
                obj = prepare(number, obj)
            command = validate_command(obj)
        except CommandParseError as error:
            yield ParsedLine(number, None, error)
        else:
            yield ParsedLine(number, command, None)


def run_parsed(ledger: GrantLedger, parsed: Iterable[ParsedLine]) -> Iterator[LineResult]:
    """Execute each parsed line; a bad line is reported and the rest still run."""
    for item in parsed:
        if item.command is None:
            assert item.error is not None
            yield LineResult(item.line, None, item.error)
            continue
        try:
            outcome = ledger.execute(item.command)
        except LedgerError as error:
            yield LineResult(item.line, None, error)
        except Exception as error:
            log.exception("line %d: unexpected error", item.line)
            yield LineResult(
                item.line, None, LedgerError("(line)", item.line, f"internal error: {error!r}")
            )
        else:
            yield LineResult(item.line, outcome, None)


def run_lines(ledger: GrantLedger, lines: Iterable[bytes]) -> Iterator[LineResult]:
    """Execute each non-blank line; a bad line is reported and the rest still run."""
    return run_parsed(ledger, parse_lines(lines))
