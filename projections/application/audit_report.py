"""What the audit report shows, gathered in one pass over the event store's chain.

The store's published log is walked from genesis (the chain recomputed); the programme's events
feed both the findings (projections.domain.findings) and the hot replay engine, so the report's
figures are the ones `balances` gives. The chain head is held against the relay's last
checkpoint when the checkpoint topic can be read; otherwise the report says it could not be.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson

from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from projections.application.envelope_balances import EnvelopeBalances
from projections.domain.asof import AsOf
from projections.domain.findings import ProgrammeRecord, check_backdating_days, programme_record
from projections.domain.rows import ProgrammeYearRow, RecipientYearRow
from projections.domain.selection import Selection
from schemas.calendar import today_in_stockholm
from schemas.envelope import Checkpoint
from schemas.errors import QueryParameter, UnknownSubject


@dataclass(frozen=True)
class ChainStatus:
    """The store's chain head and the checkpoint it was held against."""

    head_position: int
    head_hash: str | None
    checkpoint: Checkpoint | None
    checkpoint_hash_in_store: str | None
    checkpoint_source: str

    @property
    def matches(self) -> bool | None:
        """True when the checkpoint lies on the store's chain; None when there is none."""
        if self.checkpoint is None:
            return None
        return self.checkpoint_hash_in_store == self.checkpoint.hash


@dataclass(frozen=True)
class ReportData:
    """Everything the report renders."""

    programme_id: str
    as_of_date: date | None
    generated_at: datetime
    record: ProgrammeRecord
    programme_years: list[ProgrammeYearRow]
    recipient_years: list[RecipientYearRow]
    chain: ChainStatus
    backdating_days: int


def gather(
    ledger: GrantLedger,
    programme_id: str,
    *,
    as_of_date: date | None,
    backdating_days: int,
    checkpoints: list[Checkpoint] | None,
    checkpoint_source: str,
) -> ReportData:
    """One walk of the store's chain: findings, balances, chain head, checkpoint."""
    check_backdating_days(backdating_days)
    checkpoint = checkpoints[-1] if checkpoints else None
    collected = EnvelopeBalances()
    head: dict[str, Any] = {"position": 0, "hash": None, "at_checkpoint": None}

    def programme_events() -> Iterator[dict[str, Any]]:
        for envelope in store_envelopes(ledger):
            head["position"], head["hash"] = envelope["position"], envelope["hash"]
            if checkpoint is not None and envelope["position"] == checkpoint.position:
                head["at_checkpoint"] = envelope["hash"]
            if envelope["programme_id"] == programme_id:
                collected.add(orjson.dumps(envelope))
                yield envelope

    today = today_in_stockholm()
    record = programme_record(
        programme_id,
        programme_events(),
        as_of=as_of_date or today,
        backdating_days=backdating_days,
    )
    if not record.rules:
        raise UnknownSubject(
            QueryParameter.PROGRAMME, programme_id, "no such programme in the ledger"
        )
    as_of = AsOf(as_of_date=as_of_date)
    balances = collected.balances(
        today=today, as_of=as_of, selection=Selection(programme_id=programme_id)
    )
    return ReportData(
        programme_id=programme_id,
        as_of_date=as_of_date,
        generated_at=datetime.now(tz=UTC),
        record=record,
        programme_years=[r for r in balances.programme_years if isinstance(r, ProgrammeYearRow)],
        recipient_years=[r for r in balances.recipient_years if isinstance(r, RecipientYearRow)],
        chain=ChainStatus(
            head["position"], head["hash"], checkpoint, head["at_checkpoint"], checkpoint_source
        ),
        backdating_days=backdating_days,
    )
