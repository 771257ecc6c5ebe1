"""What a batch of events adds to each base table, summed per key (pure)."""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from projections.domain.facts import EventFacts
from projections.domain.kinds import measure_of
from schemas.meaning import Measure

RecipientYearKey = tuple[str, str, int]
ProgrammeYearKey = tuple[str, int]
ProgrammeDayKey = tuple[str, int, int]  # programme, year, effective day number

# Column of each measure in the tables' value columns.
RECIPIENT_YEAR_COLUMN = {
    Measure.REQUESTED: 0,
    Measure.AWARDED: 1,
    Measure.DISBURSED: 2,
    Measure.RECOVERED: 3,
}
PROGRAMME_YEAR_COLUMN = {
    Measure.APPROPRIATED: 0,
    Measure.AWARDED: 1,
    Measure.DISBURSED: 2,
    Measure.RECOVERED: 3,
}
PROGRAMME_DAY_COLUMN = {Measure.AWARDED: 0, Measure.DISBURSED: 1, Measure.RECOVERED: 2}


@dataclass
class BatchDeltas:
    """Additions per row; a key present with zeros still creates its row (a posting reached it)."""

    recipient_year: dict[RecipientYearKey, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    programme_year: dict[ProgrammeYearKey, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    programme_day: dict[ProgrammeDayKey, list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0])
    )
    timeline: list[tuple[str, int, int, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Nothing to write."""
        return not (
            self.recipient_year or self.programme_year or self.programme_day or self.timeline
        )


def deltas_of(events: Iterable[EventFacts]) -> BatchDeltas:
    """Sum the postings of `events` per base-table key."""
    deltas = BatchDeltas()
    for facts in events:
        if facts.timeline_agency is not None:
            deltas.timeline.append(
                (facts.programme_id, facts.position, facts.effective_day, facts.timeline_agency)
            )
        measure = measure_of(facts.kind)
        if measure is None:
            continue
        programme_id = facts.programme_id
        for year, amount in facts.postings:
            column = RECIPIENT_YEAR_COLUMN.get(measure)
            if column is not None:
                assert facts.recipient is not None, facts
                deltas.recipient_year[(programme_id, facts.recipient, year)][column] += amount
            column = PROGRAMME_YEAR_COLUMN.get(measure)
            if column is not None:
                deltas.programme_year[(programme_id, year)][column] += amount
            column = PROGRAMME_DAY_COLUMN.get(measure)
            if column is not None:
                deltas.programme_day[(programme_id, year, facts.effective_day)][column] += amount
    return deltas
