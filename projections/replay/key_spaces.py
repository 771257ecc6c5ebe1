"""Group keys of the numpy engine: each posting lands in one bin of a dense key space.

Two spaces, laid out in the order their rows are reported, so the bins that received money come
out of a dense array already sorted:

  grant bins   (pair, year, measure)     pair: a (programme, recipient) that occurs, numbered in
                                         string order of (programme id, recipient code)
  period bins  (period, year, measure)   period: days of a programme with one agency
                                         (projections.replay.agency_periods)

bin = (unit * years + year - first_year) * MEASURE_SLOTS + measure. The part without the year is
looked up per event (a table holds unit * years * MEASURE_SLOTS - first_year * MEASURE_SLOTS),
repeated once per posting, and the posting's year * MEASURE_SLOTS added. Keys are intp: numpy's
scatter operations index with intp, and converting int32 keys costs more than their smaller size
saves (measured: 1.7x on a chunk's scatter).

Pairs are appended at the end when new ones occur (events after an as-of index was built): the
bins of the pairs before them do not move.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.domain.kinds import KIND_COUNT, MEASURE_COUNT, MEASURE_OF_KIND
from projections.replay.columns import CodeNames

I64 = npt.NDArray[np.int64]
Keys = npt.NDArray[np.intp]

# Postings of a kind without a measure (none today) land in this slot and are never reported.
UNCOUNTED_MEASURE = MEASURE_COUNT
MEASURE_SLOTS = MEASURE_COUNT + 1
MEASURE_SLOT_OF_KIND = np.full(KIND_COUNT, UNCOUNTED_MEASURE, dtype=np.intp)
for _kind, _measure in MEASURE_OF_KIND.items():
    MEASURE_SLOT_OF_KIND[_kind] = _measure
# A pair or period that a key table does not know: its keys are negative, which the engine
# checks before any scatter (numpy would wrap a negative index around).
UNKNOWN_KEY = np.iinfo(np.intp).min // 2


@dataclass(frozen=True)
class YearSpan:
    """The grant-years a key space has bins for."""

    first: int
    count: int

    @classmethod
    def of(cls, years: npt.NDArray[Any], *, later_years: int = 0) -> YearSpan:
        """The years of these postings, and `later_years` more after them."""
        if len(years) == 0:
            return cls(0, 1)
        first = int(years.min())
        return cls(first, int(years.max()) - first + 1 + later_years)

    def contains(self, years: npt.NDArray[Any]) -> bool:
        """True when every year has bins."""
        return len(years) == 0 or (
            int(years.min()) >= self.first and int(years.max()) < self.first + self.count
        )

    def unit_keys(self, units: int) -> Keys:
        """Per unit (pair or period): its key part without the year (see the module docstring)."""
        base: Keys = np.arange(units, dtype=np.intp) * (self.count * MEASURE_SLOTS)
        base -= self.first * MEASURE_SLOTS
        return base


@dataclass(frozen=True)
class PairIndex:
    """The (programme, recipient) code pairs that occur, and the key part of each."""

    recipient_codes: int  # width of the lookup: recipient codes 0 .. recipient_codes - 1
    lookup: Keys  # [programme * recipient_codes + recipient] -> key part, UNKNOWN_KEY if absent
    programme: I64  # pair -> programme code
    recipient: I64  # pair -> recipient code
    in_name_order: bool  # pairs numbered in (programme id, recipient code) string order

    @property
    def count(self) -> int:
        """Number of pairs."""
        return len(self.programme)

    @classmethod
    def of_flags(
        cls, seen: npt.NDArray[np.bool_], recipient_codes: int, names: CodeNames, years: YearSpan
    ) -> PairIndex:
        """Pairs from a flag per (programme, recipient) code pair, numbered in string order."""
        programme, recipient = np.divmod(np.flatnonzero(seen), recipient_codes)
        order = np.lexsort(
            (name_ranks(names.recipients)[recipient], name_ranks(names.programmes)[programme])
        )
        return cls.of_pairs(programme[order], recipient[order], recipient_codes, years, True)

    @classmethod
    def of_pairs(
        cls,
        programme: I64,
        recipient: I64,
        recipient_codes: int,
        years: YearSpan,
        in_name_order: bool,
    ) -> PairIndex:
        """These pairs, numbered in the order given."""
        programme_codes = int(programme.max()) + 1 if len(programme) else 1
        lookup = np.full(programme_codes * recipient_codes, UNKNOWN_KEY, dtype=np.intp)
        lookup[programme * recipient_codes + recipient] = years.unit_keys(len(programme))
        return cls(recipient_codes, lookup, programme, recipient, in_name_order)

    def with_pairs_of(
        self, programme: npt.NDArray[Any], recipient: npt.NDArray[Any], years: YearSpan
    ) -> PairIndex:
        """This index with the pairs of these events it lacks appended after its own."""
        width = max(self.recipient_codes, int(recipient.max()) + 1 if len(recipient) else 0)
        codes = programme.astype(np.int64) * width + recipient
        known = self.programme * width + self.recipient
        new = np.setdiff1d(np.unique(codes), known, assume_unique=True)
        if len(new) == 0 and width == self.recipient_codes:
            return self
        new_programme, new_recipient = np.divmod(new, width)
        return PairIndex.of_pairs(
            np.concatenate([self.programme, new_programme]),
            np.concatenate([self.recipient, new_recipient]),
            width,
            years,
            self.in_name_order and len(new) == 0,
        )


def name_ranks(values: list[str]) -> I64:
    """Each code's place in string order (numpy sorts str by code point, as Python does)."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(np.array(values, dtype=str), kind="stable")] = np.arange(len(values))
    return ranks


@dataclass(frozen=True)
class KeySpace:
    """One dense key space: `units` x years x measure slots."""

    units: int
    years: YearSpan

    @property
    def size(self) -> int:
        """Number of bins."""
        return self.units * self.years.count * MEASURE_SLOTS

    def decode(self, bins: I64) -> tuple[I64, I64, I64]:
        """(unit, year, measure) of each bin."""
        rest, measure = np.divmod(bins, MEASURE_SLOTS)
        unit, year_offset = np.divmod(rest, self.years.count)
        return unit, year_offset + self.years.first, measure
