"""The as-of index: zone maps and cumulative sums per chunk of the position-ordered store.

An as-of question (by position, effective date and/or recording time) counts a set of events.
Chunks of CHUNK_EVENTS events whose zone (min/max position, effective day, recorded_at) lies
wholly inside the question come from the cumulative sums at a chunk boundary; only the chunks
the cut-off straddles, and events appended after the index was built, are scanned with a mask.
Agency attribution uses sums per agency period (projections.replay.periods), which hold for any
question whose known timeline is a prefix of the indexed one.

Built by `rebuild` (the same per-chunk pass yields the read store's totals), stored beside the
columns, valid for the store generation it was built for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from projections.domain.asof import AsOf
from projections.replay.columns import ReplayColumns, Table
from projections.replay.engine import (
    DAY_MEASURES,
    PartialSums,
    Scratch,
    Spaces,
    counted_events,
    known_timeline,
    merge_partials,
    spaces_of,
    sum_counted,
)
from projections.replay.groupby import DENSE_BINS_MAX, BinSums, DenseSums, merge
from projections.replay.keyspace import KeySpace
from projections.replay.periods import Periods, periods_of

CHUNK_EVENTS = 1 << 18
INDEX_FORMAT_VERSION = 2
INDEX_MANIFEST = "asof-index.json"
ZONE_COLUMNS = 6  # min/max position, min/max effective day, min/max recorded_at_us
ZONE_FIELDS = ("position", "effective_day", "recorded_at_us")

I64 = npt.NDArray[np.int64]


@dataclass
class AsOfIndex:
    """Zone maps and cumulative bin sums at every chunk boundary."""

    generation: int
    events: int
    chunk_events: int
    spaces: Spaces
    periods: Periods
    arrays: dict[str, npt.NDArray[Any]]

    @property
    def chunks(self) -> int:
        """Number of chunks."""
        return len(self.arrays["zones"])


@dataclass
class Built:
    """A rebuild's pass: the index (when one applies), totals of every event, their spaces."""

    index: AsOfIndex | None
    totals: PartialSums
    spaces: Spaces


def build(
    columns: ReplayColumns,
    programme_count: int,
    recipient_count: int,
    generation: int,
    *,
    chunk_events: int = CHUNK_EVENTS,
) -> Built:
    """Per chunk: group-by sums, cumulated per boundary; the overall totals on the way."""
    events = columns.event_count
    spaces = spaces_of(columns, programme_count, recipient_count, headroom=True)
    ry = spaces.recipient_year
    periods = periods_of(
        columns.timeline, programme_count, ry.first_year, ry.years, len(DAY_MEASURES)
    )
    if events == 0 or periods is None or max(ry.size, spaces.programme_day.size) > DENSE_BINS_MAX:
        plain = spaces_of(columns, programme_count, recipient_count)
        counted = counted_events(columns, AsOf(), None, position_sorted=True)
        return Built(None, sum_counted(columns, counted, plain), plain)
    chunks = math.ceil(events / chunk_events)
    counts = columns.events["posting_count"]
    posting_starts = np.zeros(chunks + 1, dtype=np.int64)
    zones = np.zeros((chunks, ZONE_COLUMNS), dtype=np.int64)
    scratch = Scratch()
    day_totals = DenseSums(spaces.programme_day.size)
    recipient_years: list[BinSums] = []
    period_parts: list[BinSums] = []
    for chunk in range(chunks):
        start, stop = chunk * chunk_events, min((chunk + 1) * chunk_events, events)
        posting_starts[chunk + 1] = posting_starts[chunk] + int(
            counts[start:stop].sum(dtype=np.int64)
        )
        for column, name in enumerate(ZONE_FIELDS):
            values = columns.events[name][start:stop]
            zones[chunk, 2 * column : 2 * column + 2] = (int(values.min()), int(values.max()))
        counted = counted_events(
            columns,
            AsOf(),
            None,
            position_sorted=True,
            event_start=start,
            event_stop=stop,
            posting_start=int(posting_starts[chunk]),
        )
        part = sum_counted(
            columns, counted, spaces, day_totals=day_totals, periods=periods, scratch=scratch
        )
        recipient_years.append(part.recipient_year)
        assert part.periods is not None
        period_parts.append(part.periods)
    ry_bins, ry_first, ry_cum = _cumulative(recipient_years)
    pe_bins, pe_first, pe_cum = _cumulative(period_parts)
    index = AsOfIndex(
        generation=generation,
        events=events,
        chunk_events=chunk_events,
        spaces=spaces,
        periods=periods,
        arrays={
            "zones": zones,
            "posting_starts": posting_starts,
            "ry_bins": ry_bins,
            "ry_first": ry_first,
            "ry_cum": ry_cum,
            "pe_bins": pe_bins,
            "pe_first": pe_first,
            "pe_cum": pe_cum,
            "timeline_positions": np.sort(np.asarray(columns.timeline["position"], dtype=np.int64)),
            **periods.as_arrays(),
        },
    )
    totals = PartialSums(_at_boundary(index, "ry", chunks), day_totals.take())
    return Built(index, totals, spaces)


def _cumulative(parts: list[BinSums]) -> tuple[I64, npt.NDArray[np.int32], I64]:
    """(bins, first chunk reaching each bin, sums of the chunks before each boundary)."""
    present = np.unique(np.concatenate([part.bins for part in parts]))
    first = np.full(len(present), len(parts), dtype=np.int32)
    cumulative = np.zeros((len(parts) + 1, len(present)), dtype=np.int64)
    for chunk, part in enumerate(parts):
        where = np.searchsorted(present, part.bins)
        cumulative[chunk + 1] = cumulative[chunk]
        cumulative[chunk + 1, where] += part.sums
        reached = where[part.counts > 0]
        first[reached] = np.minimum(first[reached], chunk)
    return present.astype(np.int64), first, cumulative


def _at_boundary(index: AsOfIndex, prefix: str, boundary: int) -> BinSums:
    """Sums of every chunk before `boundary`, for the bins reached by then."""
    reached = index.arrays[f"{prefix}_first"] < boundary
    sums = np.asarray(index.arrays[f"{prefix}_cum"][boundary])
    return BinSums(
        np.asarray(index.arrays[f"{prefix}_bins"])[reached],
        sums[reached],
        np.ones(int(reached.sum()), dtype=np.int64),
    )


# --------------------------------------------------------------------------- questions


def indexed_sums(
    columns: ReplayColumns,
    index: AsOfIndex,
    as_of: AsOf,
    programme: int | None,
    *,
    stored_events: int,
) -> PartialSums | None:
    """The counted sums via the index, or None when it cannot answer (then: scan everything).

    Agency sums come as real-day bins at each period's first day.
    """
    timeline = columns.timeline
    positions = np.sort(np.asarray(timeline["position"], dtype=np.int64))
    if not np.array_equal(positions, index.arrays["timeline_positions"]):
        return None  # a handover arrived after the index was built
    if stored_events > index.events and not _tail_fits(columns, index, stored_events):
        return None  # appended events use codes or years outside the index's spaces
    if not _known_is_prefix(timeline, as_of):
        return None
    zones = index.arrays["zones"]
    full = np.ones(index.chunks, dtype=np.bool_)
    none = np.zeros(index.chunks, dtype=np.bool_)
    for column, limit in enumerate((as_of.at_position, as_of.as_of_day, as_of.known_at_us)):
        if limit is not None:
            full &= zones[:, 2 * column + 1] <= limit
            none |= zones[:, 2 * column] > limit
    leading = index.chunks if bool(full.all()) else int(np.argmin(full))
    needed = np.flatnonzero(~none)
    stop_chunk = max(int(needed[-1]) + 1, leading) if len(needed) else leading
    parts = [
        PartialSums(
            _at_boundary(index, "ry", leading), _empty(), _at_boundary(index, "pe", leading)
        )
    ]
    ranges = []
    if stop_chunk > leading:
        ranges.append(
            (
                leading * index.chunk_events,
                min(stop_chunk * index.chunk_events, index.events),
                int(index.arrays["posting_starts"][leading]),
            )
        )
    if stored_events > index.events:
        ranges.append((index.events, stored_events, int(index.arrays["posting_starts"][-1])))
    scratch = Scratch()
    for start, stop, posting_start in ranges:
        counted = counted_events(
            columns,
            as_of,
            None,
            position_sorted=True,
            event_start=start,
            event_stop=stop,
            posting_start=posting_start,
        )
        parts.append(
            sum_counted(
                columns,
                counted,
                index.spaces,
                with_days=False,
                periods=index.periods,
                scratch=scratch,
            )
        )
    merged = merge_partials(parts)
    assert merged.periods is not None
    days = _period_days(merged.periods, index)
    ry = merged.recipient_year
    if programme is not None:
        ry = _only_programme(ry, index.spaces.recipient_year, programme)
        days = _only_programme(days, index.spaces.programme_day, programme)
    return PartialSums(ry, days)


def _empty() -> BinSums:
    empty = np.empty(0, dtype=np.int64)
    return BinSums(empty, empty, empty)


def _period_days(periods: BinSums, index: AsOfIndex) -> BinSums:
    """Period bins as real-day bins at each period's first day."""
    space = index.periods.space
    programme, period, measure, year = space.decode(periods.bins)
    days = index.periods.representative_days(programme, period)
    day_space = index.spaces.programme_day
    offsets = days - index.spaces.first_day
    bins = (
        (programme * day_space.inner + offsets) * day_space.measures + measure
    ) * day_space.years + (year - day_space.first_year)
    # Period first days are timeline days (inside the day span); both spaces share the years.
    assert bool(np.all((offsets >= 0) & (offsets < day_space.inner))), (
        "period day outside the index"
    )
    return merge([BinSums(bins, periods.sums, periods.counts)])


def _only_programme(sums: BinSums, space: KeySpace, programme: int) -> BinSums:
    keep = sums.bins // (space.inner * space.measures * space.years) == programme
    return BinSums(sums.bins[keep], sums.sums[keep], sums.counts[keep])


def _tail_fits(columns: ReplayColumns, index: AsOfIndex, stored_events: int) -> bool:
    """Events appended since the index: inside its recipient-year space and its programmes."""
    events = columns.events
    window = slice(index.events, stored_events)
    years = columns.postings["year"][int(index.arrays["posting_starts"][-1]) :]
    ry, day = index.spaces.recipient_year, index.spaces.programme_day
    return bool(
        int(events["programme"][window].max()) < min(ry.outer, index.periods.lookup.shape[0])
        and int(events["recipient"][window].max()) < ry.inner
        and (
            len(years) == 0
            or (
                int(years.min()) >= day.first_year and int(years.max()) < day.first_year + day.years
            )
        )
    )


def _known_is_prefix(timeline: Table, as_of: AsOf) -> bool:
    """Per programme, the entries the question knows are the first ones by position."""
    if as_of.at_position is None and as_of.known_at_us is None:
        return True
    known = set(known_timeline(timeline, as_of, None)["position"].tolist())
    order = np.argsort(timeline["position"], kind="stable")
    programmes = np.asarray(timeline["programme"])[order]
    positions = np.asarray(timeline["position"])[order]
    for code in np.unique(programmes):
        flags = [position in known for position in positions[programmes == code].tolist()]
        if flags != sorted(flags, reverse=True):
            return False
    return True


# --------------------------------------------------------------------------- on disk


def _space_dict(space: KeySpace) -> dict[str, int]:
    return {
        "outer": space.outer,
        "inner": space.inner,
        "measures": space.measures,
        "first_year": space.first_year,
        "years": space.years,
    }


def save(index: AsOfIndex, directory: Path) -> None:
    """Write the index beside the columns, its small manifest last."""
    files = {}
    for name, array in index.arrays.items():
        file_name = f"asof.{name}.g{index.generation}.npy"
        np.save(directory / file_name, np.ascontiguousarray(array))
        files[name] = file_name
    meta = {
        "version": INDEX_FORMAT_VERSION,
        "generation": index.generation,
        "events": index.events,
        "chunk_events": index.chunk_events,
        "recipient_year": _space_dict(index.spaces.recipient_year),
        "programme_day": _space_dict(index.spaces.programme_day),
        "period_space": _space_dict(index.periods.space),
        "first_day": index.spaces.first_day,
        "period_first_day": index.periods.first_day,
        "files": files,
    }
    temporary = directory / f".{INDEX_MANIFEST}.tmp"
    temporary.write_bytes(orjson.dumps(meta))
    temporary.replace(directory / INDEX_MANIFEST)
    for stale in directory.glob("asof.*.npy"):
        if not stale.name.endswith(f".g{index.generation}.npy"):
            stale.unlink(missing_ok=True)


def load(directory: Path, generation: int) -> AsOfIndex | None:
    """The index of `generation`, memory-mapped; None when absent or stale."""
    path = directory / INDEX_MANIFEST
    if not path.exists():
        return None
    try:
        meta = orjson.loads(path.read_bytes())
        if meta["version"] != INDEX_FORMAT_VERSION or meta["generation"] != generation:
            return None
        arrays = {
            name: np.load(directory / file, mmap_mode="r") for name, file in meta["files"].items()
        }
        spaces = Spaces(
            KeySpace(**meta["recipient_year"]),
            KeySpace(**meta["programme_day"]),
            int(meta["first_day"]),
        )
        periods = Periods(
            int(meta["period_first_day"]),
            np.asarray(arrays["period_lookup"]),
            np.asarray(arrays["period_since"]),
            KeySpace(**meta["period_space"]),
        )
        return AsOfIndex(
            generation, int(meta["events"]), int(meta["chunk_events"]), spaces, periods, arrays
        )
    except (OSError, ValueError, KeyError):
        return None
