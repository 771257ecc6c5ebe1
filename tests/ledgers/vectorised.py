"""A deterministic vectorised ledger: 290 municipalities, several programmes, twenty grant-years.

One numpy plan (fixed seed) describes every event. From it come either the replay store's
columns directly (fast: quick replay benchmarks) or full envelopes with a real hash chain
(`tests.ledgers.envelopes`). The money follows a plausible mix (applications, awards, payments,
amendments, recoveries, appropriation cuts, handovers, backdating) without replaying the write
side's rules; `tests.ledgers.decade` builds a ledger through them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from projections.domain.kinds import EventKind
from projections.domain.time_units import date_of_day, instant_of_micros, micros_of
from projections.replay import Dictionaries, ReplayColumns
from schemas.envelope import Checkpoint
from schemas.recipients import municipalities

SEED = 20180315
PROGRAMME_COUNT = 8
FIRST_YEAR = 2016
LAST_YEAR = 2035
LEDGER_START = datetime(2016, 1, 4, 8, 0, tzinfo=UTC)
LEDGER_END = datetime(2035, 12, 20, 16, 0, tzinfo=UTC)
AGENCIES = ("tillvaxtverket", "delmos", "boverket", "socialstyrelsen")
CHECKPOINT_EVERY = 1_000
BACKDATED_SHARE = 0.05
BACKDATE_MAX_DAYS = 90

# The stream after the set-up (establishments, appropriations): kind -> share of events.
STREAM_MIX: dict[EventKind, float] = {
    EventKind.APPLICATION_SUBMITTED: 0.14,
    EventKind.GRANT_AWARDED: 0.11,
    EventKind.APPLICATION_REJECTED: 0.03,
    EventKind.GRANT_EXTENDED: 0.01,
    EventKind.AWARD_AMENDED: 0.04,
    EventKind.FUNDS_DISBURSED: 0.62,
    EventKind.FUNDS_RECOVERED: 0.045,
    EventKind.APPROPRIATION_AMENDED: 0.005,
}
MULTI_YEAR_KINDS = (
    EventKind.APPLICATION_SUBMITTED,
    EventKind.GRANT_AWARDED,
    EventKind.GRANT_EXTENDED,
)
# (low, high) öre per posting.
AMOUNT_RANGE_ORE: dict[EventKind, tuple[int, int]] = {
    EventKind.APPLICATION_SUBMITTED: (10**7, 5 * 10**9),
    EventKind.GRANT_AWARDED: (10**7, 4 * 10**9),
    EventKind.GRANT_EXTENDED: (10**7, 2 * 10**9),
    EventKind.AWARD_AMENDED: (10**5, 10**8),
    EventKind.FUNDS_DISBURSED: (10**6, 10**9),
    EventKind.FUNDS_RECOVERED: (10**5, 10**8),
    EventKind.APPROPRIATION_SET: (10**11, 10**12),
    EventKind.APPROPRIATION_AMENDED: (10**9, 10**10),
}
# (share of the stream, from index, to index): handovers of some programmes.
HANDOVERS = ((0.40, 0, 1), (0.40, 1, 1), (0.75, 1, 2), (0.55, 2, 3))


def programme_ids() -> list[str]:
    """The synthetic programmes."""
    return [f"synthetic-{index + 1}" for index in range(PROGRAMME_COUNT)]


@dataclass(frozen=True)
class SyntheticPlan:
    """Every event of the synthetic ledger as arrays (codes index the lists beside)."""

    kind: npt.NDArray[np.uint8]
    programme: npt.NDArray[np.uint16]
    recipient: npt.NDArray[np.int32]  # 0: none, else 1 + index into `recipient_codes`
    recorded_at_us: npt.NDArray[np.int64]
    effective_day: npt.NDArray[np.int32]
    posting_count: npt.NDArray[np.uint8]
    posting_year: npt.NDArray[np.int16]
    posting_amount_ore: npt.NDArray[np.int64]
    timeline_agency: dict[int, int]  # event index -> agency code
    recipient_codes: list[str]

    @property
    def event_count(self) -> int:
        """Events in the plan."""
        return len(self.kind)


def plan(events: int, seed: int = SEED) -> SyntheticPlan:
    """The deterministic plan of `events` events (the generator's draws in a fixed order)."""
    rng = np.random.default_rng(seed)
    codes = sorted(municipalities())
    setup = PROGRAMME_COUNT * (1 + LAST_YEAR - FIRST_YEAR + 1)
    assert events >= setup + len(HANDOVERS), f"at least {setup + len(HANDOVERS)} events"
    kind, programme, timeline_agency = _kinds(rng, events, setup)
    grant = np.isin(kind, [int(k) for k in STREAM_MIX if k != EventKind.APPROPRIATION_AMENDED])
    # Larger municipalities (by code order, a stand-in) apply a little more often.
    recipient_weights = rng.uniform(0.5, 2.0, len(codes))
    recipient = np.where(
        grant,
        1 + rng.choice(len(codes), size=events, p=recipient_weights / recipient_weights.sum()),
        0,
    ).astype(np.int32)
    recorded_at_us, effective_day = _times(rng, kind, setup)
    posting_count, posting_year, amount = _postings(rng, kind, setup, recorded_at_us)
    return SyntheticPlan(
        kind=kind,
        programme=programme,
        recipient=recipient,
        recorded_at_us=recorded_at_us,
        effective_day=effective_day,
        posting_count=posting_count,
        posting_year=posting_year,
        posting_amount_ore=amount,
        timeline_agency=timeline_agency,
        recipient_codes=codes,
    )


def _kinds(
    rng: np.random.Generator, events: int, setup: int
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.uint16], dict[int, int]]:
    """Kind and programme per event; the agency timeline (event index -> agency code)."""
    kind = np.empty(events, dtype=np.uint8)
    programme = np.empty(events, dtype=np.uint16)
    # Set-up: each programme established, then its appropriation for every year.
    kind[:PROGRAMME_COUNT] = EventKind.PROGRAMME_ESTABLISHED
    programme[:PROGRAMME_COUNT] = np.arange(PROGRAMME_COUNT)
    kind[PROGRAMME_COUNT:setup] = EventKind.APPROPRIATION_SET
    programme[PROGRAMME_COUNT:setup] = np.repeat(
        np.arange(PROGRAMME_COUNT), LAST_YEAR - FIRST_YEAR + 1
    )
    stream_kinds = np.array(list(STREAM_MIX), dtype=np.uint8)
    shares = np.array(list(STREAM_MIX.values()))
    kind[setup:] = rng.choice(stream_kinds, size=events - setup, p=shares / shares.sum())
    # Bigger programmes get more events.
    weights = np.linspace(2.0, 0.5, PROGRAMME_COUNT)
    programme[setup:] = rng.choice(PROGRAMME_COUNT, size=events - setup, p=weights / weights.sum())
    timeline_agency: dict[int, int] = {index: 0 for index in range(PROGRAMME_COUNT)}
    for share, programme_index, agency in HANDOVERS:
        at = setup + int((events - setup) * share)
        while at in timeline_agency:
            at += 1
        kind[at] = EventKind.PROGRAMME_HANDED_OVER
        programme[at] = programme_index
        timeline_agency[at] = agency
    return kind, programme, timeline_agency


def _times(
    rng: np.random.Generator, kind: npt.NDArray[np.uint8], setup: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]:
    """Recorded instants spread over the ledger's span; effective days, some backdated."""
    events = len(kind)
    step_us = (micros_of(LEDGER_END) - micros_of(LEDGER_START)) // events
    recorded_at_us = (
        micros_of(LEDGER_START)
        + np.arange(events, dtype=np.int64) * step_us
        + rng.integers(0, max(step_us, 1), size=events)
    )
    recorded_day = (recorded_at_us // 86_400_000_000).astype(np.int32)
    backdated = rng.random(events) < BACKDATED_SHARE
    backdated[:setup] = False
    backdated[kind == EventKind.PROGRAMME_HANDED_OVER] = False
    effective_day = recorded_day - np.where(
        backdated, rng.integers(1, BACKDATE_MAX_DAYS + 1, size=events), 0
    ).astype(np.int32)
    effective_day[:setup] = recorded_day[0]
    return recorded_at_us, effective_day


def _postings(
    rng: np.random.Generator,
    kind: npt.NDArray[np.uint8],
    setup: int,
    recorded_at_us: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.int16], npt.NDArray[np.int64]]:
    """Posting count per event; the year and amount of every posting."""
    events = len(kind)
    posting_count = np.zeros(events, dtype=np.uint8)
    multi = np.isin(kind, [int(k) for k in MULTI_YEAR_KINDS])
    posting_count[multi] = rng.integers(1, 4, size=int(multi.sum()))
    single = np.isin(kind, [int(k) for k in AMOUNT_RANGE_ORE]) & ~multi
    posting_count[single] = 1
    base_year = _calendar_years(recorded_at_us)
    # Appropriations: one per programme-year, in year order.
    base_year[PROGRAMME_COUNT:setup] = np.tile(
        np.arange(FIRST_YEAR, LAST_YEAR + 1), PROGRAMME_COUNT
    )
    # Applications and awards look ahead; payments and corrections sometimes look back a year.
    base_year[multi] = np.minimum(
        base_year[multi], LAST_YEAR + 1 - posting_count[multi].astype(np.int16)
    )
    look_back = single & (kind != EventKind.APPROPRIATION_SET) & (rng.random(events) < 0.3)
    base_year[look_back] = np.maximum(base_year[look_back] - 1, FIRST_YEAR)
    counts = posting_count.astype(np.int64)
    starts = np.cumsum(counts) - counts
    within = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)
    posting_year = (np.repeat(base_year, counts) + within).astype(np.int16)
    return posting_count, posting_year, _amounts(rng, np.repeat(kind, counts))


def _calendar_years(recorded_at_us: npt.NDArray[np.int64]) -> npt.NDArray[np.int16]:
    """Each event's recording year, clipped to the ledger's years."""
    recorded_day = (recorded_at_us // 86_400_000_000).astype(np.int32)
    first = int(recorded_day[0])
    years = np.array(
        [date_of_day(day).year for day in range(first, int(recorded_day[-1]) + 1)],
        dtype=np.int16,
    )[recorded_day - first]
    return np.clip(years, FIRST_YEAR, LAST_YEAR).astype(np.int16)


def _amounts(
    rng: np.random.Generator, posting_kind: npt.NDArray[np.uint8]
) -> npt.NDArray[np.int64]:
    """Whole-krona amounts in each kind's range; amendments a third supplements, else cuts."""
    low = np.zeros(256, dtype=np.int64)
    high = np.ones(256, dtype=np.int64)
    for each, (lo, hi) in AMOUNT_RANGE_ORE.items():
        low[each], high[each] = lo, hi
    span = high[posting_kind] - low[posting_kind]
    amount = (rng.random(len(posting_kind)) * span).astype(np.int64)
    amount = (low[posting_kind] + amount) // 100 * 100
    signed = np.isin(posting_kind, [EventKind.AWARD_AMENDED, EventKind.APPROPRIATION_AMENDED])
    amount[signed] *= np.where(rng.random(int(signed.sum())) < 1 / 3, 1, -1)
    return amount


def pseudo_hash(position: int, seed: int = SEED) -> str:
    """A stand-in chain hash for the columns-only ledger (no envelopes to hash)."""
    rng = np.random.default_rng([seed, position])
    return bytes(rng.integers(0, 256, size=32, dtype=np.uint8)).hex()


def synthetic_columns(
    events: int, seed: int = SEED
) -> tuple[ReplayColumns, Dictionaries, list[Checkpoint]]:
    """Replay-store columns of the plan, its dictionaries and checkpoints of stand-in hashes."""
    p = plan(events, seed)
    rng = np.random.default_rng(seed + 1)
    hash_prefix = rng.integers(0, 2**63, size=events, dtype=np.int64).astype(np.uint64)
    checkpoint_positions = [*range(CHECKPOINT_EVERY, events + 1, CHECKPOINT_EVERY)]
    if not checkpoint_positions or checkpoint_positions[-1] != events:
        checkpoint_positions.append(events)
    checkpoints = []
    for position in checkpoint_positions:
        tail = pseudo_hash(position, seed)[16:]
        checkpoints.append(
            Checkpoint(
                position=position,
                hash=f"{int(hash_prefix[position - 1]):016x}{tail}",
                events=position,
                recorded_at=instant_of_micros(int(p.recorded_at_us[position - 1])),
            )
        )
    timeline_rows = sorted(p.timeline_agency.items())
    index = np.array([row for row, _ in timeline_rows], dtype=np.int64)
    event_table = {
        "position": np.arange(1, events + 1, dtype=np.int64),
        "recorded_at_us": p.recorded_at_us,
        "hash_prefix": hash_prefix,
        "effective_day": p.effective_day,
        "recipient": p.recipient,
        "programme": p.programme,
        "kind": p.kind,
        "posting_count": p.posting_count,
    }
    # ReplayColumns.of_tables converts each array to its column's dtype.
    columns = ReplayColumns.of_tables(
        event_table,
        {"year": p.posting_year, "amount_ore": p.posting_amount_ore},
        {
            "position": index + 1,
            "recorded_at_us": p.recorded_at_us[index],
            "effective_day": p.effective_day[index],
            "programme": p.programme[index],
            "agency": [agency for _, agency in timeline_rows],
        },
    )
    dictionaries = Dictionaries.from_lists(
        programme_ids(), ["", *p.recipient_codes], list(AGENCIES)
    )
    return columns, dictionaries, checkpoints
