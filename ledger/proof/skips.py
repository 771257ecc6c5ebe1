"""Skipping a message: an explicit act, recorded with who, when, why and the message's digest.

A skip is asked for by coordinates (`--skip TOPIC:PARTITION:OFFSET --reason "…"`). When the
reader meets the message there it records the skip with the message's SHA-256, and from then on
skips only that exact message: if the coordinates later hold other bytes (a re-created topic),
they are not skipped but proven like any message, since nobody looked at them. Skipping only
ever removes a message: what is applied must still link and be covered by a signed checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.proof.coordinates import MessageAt
from ledger.proof.messages import digest_of
from schemas.errors import ConfigurationError, OperatorParameter

MAX_REASON_CHARS = 2_000


def utc_now() -> str:
    """When a skip is recorded: UTC, ISO 8601, seconds."""
    return datetime.now(tz=UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class SkipRequest:
    """An operator's request to skip the message at `at`."""

    at: MessageAt
    reason: str

    def __post_init__(self) -> None:
        if not self.reason.strip():
            raise ConfigurationError(
                OperatorParameter.SKIP_REASON, self.reason, "a skip needs a reason (it is recorded)"
            )
        if len(self.reason) > MAX_REASON_CHARS:
            raise ConfigurationError(
                OperatorParameter.SKIP_REASON,
                self.reason[:40] + "…",
                f"over {MAX_REASON_CHARS} chars",
            )


@dataclass(frozen=True, slots=True)
class RecordedSkip:
    """A skip as recorded: which message (and its digest), who, when (UTC ISO 8601), why."""

    at: MessageAt
    digest: str
    reason: str
    by: str
    skipped_at: str

    def __str__(self) -> str:
        return (
            f"{self.at} (sha256 {self.digest[:16]}…) skipped by {self.by} at {self.skipped_at}: "
            f"{self.reason}"
        )


class Skips:
    """The skips a reader honours: those recorded earlier, and those asked for in this run."""

    def __init__(
        self,
        recorded: Iterable[RecordedSkip],
        requested: Iterable[SkipRequest],
        *,
        by: str,
        now: str,
    ) -> None:
        self._recorded = {skip.at: skip for skip in recorded}
        self._requested = {request.at: request for request in requested if request.at}
        self._by = by
        self._now = now
        self.new: list[RecordedSkip] = []
        self.mismatched: list[RecordedSkip] = []

    def __bool__(self) -> bool:
        return bool(self._recorded or self._requested)

    def check(self, at: MessageAt, value: bytes | None) -> RecordedSkip | None:
        """The skip covering this message (recording a requested one), else None."""
        recorded = self._recorded.get(at)
        if recorded is not None:
            if digest_of(value) == recorded.digest:
                return recorded
            # Other bytes at these coordinates (a re-created topic): not what was looked at, so
            # not skipped; the reader proves it like any other message.
            self.mismatched.append(recorded)
            return None
        request = self._requested.pop(at, None)
        if request is None:
            return None
        skip = RecordedSkip(at, digest_of(value), request.reason, self._by, self._now)
        self._recorded[at] = skip
        self.new.append(skip)
        return skip

    def unmet(self) -> list[SkipRequest]:
        """Requested skips whose message this run never met."""
        return list(self._requested.values())
