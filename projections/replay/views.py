"""The three balance views from base totals: agency attribution, derived rows, filters."""

from __future__ import annotations

import gc
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.domain.asof import CURRENT, AsOf
from projections.domain.balances import Balances
from projections.domain.rows import AgencyYearRow, ProgrammeYearRow, RecipientYearRow, View
from projections.domain.selection import EVERYTHING, Selection
from projections.domain.time_units import day_number
from projections.domain.timeline import UNKNOWN_AGENCY
from projections.replay.engine import BaseTotals

# Agency code for "no timeline entry known".
UNKNOWN_AGENCY_CODE = -1


def agency_codes_on(
    totals: BaseTotals, programme_codes: npt.NDArray[Any], days: npt.NDArray[Any]
) -> npt.NDArray[np.int64]:
    """Per (programme, day): the agency in charge, as the write side decides it.

    The last timeline entry, in position order, effective by the day; before the first entry
    the programme's first agency. Entries are few, so one vectorised pass per entry.
    """
    timeline = totals.timeline
    result = np.full(len(days), UNKNOWN_AGENCY_CODE, dtype=np.int64)
    seen_first: set[int] = set()
    for programme, since, agency in zip(
        timeline["programme"].tolist(),
        timeline["effective_day"].tolist(),
        timeline["agency"].tolist(),
        strict=True,
    ):
        rows = programme_codes == programme
        if programme not in seen_first:
            seen_first.add(programme)
            result[rows] = agency
        result[rows & (days >= since)] = agency
    return result


def _agency_name(totals: BaseTotals, code: int) -> str:
    return UNKNOWN_AGENCY if code == UNKNOWN_AGENCY_CODE else totals.agencies[code]


def balances_from_totals(
    totals: BaseTotals,
    *,
    today: date,
    as_of: AsOf = CURRENT,
    selection: Selection = EVERYTHING,
    only: View | None = None,
) -> Balances:
    """Rows of the three views (or of `only` one); the programme filter applied when summing."""
    recipient_rows = (
        _recipient_years(totals, selection) if only in (None, View.RECIPIENT_YEAR) else ()
    )
    programme_rows = (
        sorted(_programme_years(totals, selection, as_of, today))
        if only in (None, View.PROGRAMME_YEAR)
        else []
    )
    agency_rows = (
        sorted(_agency_years(totals, selection)) if only in (None, View.AGENCY_YEAR) else []
    )
    return Balances(recipient_rows, tuple(programme_rows), tuple(agency_rows))


def _ranks(values: list[str]) -> npt.NDArray[np.int64]:
    """Each dictionary code's place in string order (numpy sorts str by code point, as Python)."""
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(np.array(values, dtype=str), kind="stable")] = np.arange(len(values))
    return ranks


def _recipient_years(totals: BaseTotals, selection: Selection) -> tuple[RecipientYearRow, ...]:
    programmes, recipients = totals.programmes, totals.recipients
    ry = totals.recipient_year
    keep = _year_filter(ry["year"], selection)
    if selection.recipient is not None:
        code = recipients.index(selection.recipient) if selection.recipient in recipients else -1
        keep &= ry["recipient"] == code
    columns = {name: np.asarray(values)[keep] for name, values in ry.items()}
    if len(columns["year"]) == 0:
        return ()
    # Sorted in numpy by (programme id, recipient code, year): no Python sort of row objects.
    order = np.lexsort(
        (
            columns["year"],
            _ranks(recipients)[columns["recipient"]],
            _ranks(programmes)[columns["programme"]],
        )
    )
    # Strings by code in one numpy gather; rows made from tuples in C (no Python call per row).
    programme_ids = np.array(programmes, dtype=object)[columns["programme"][order]]
    recipient_codes = np.array(recipients, dtype=object)[columns["recipient"][order]]
    sums = ("year", "requested_ore", "awarded_ore", "disbursed_ore", "recovered_ore")
    # Tens of thousands of new tuples would trigger cyclic-GC passes over every live object;
    # none of them can form a cycle, so the collector waits until they are made.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return tuple(
            map(
                RecipientYearRow._make,
                zip(
                    programme_ids.tolist(),
                    recipient_codes.tolist(),
                    *(columns[name][order].tolist() for name in sums),
                    strict=True,
                ),
            )
        )
    finally:
        if collecting:
            gc.enable()


def _programme_years(
    totals: BaseTotals, selection: Selection, as_of: AsOf, today: date
) -> list[ProgrammeYearRow]:
    programmes = totals.programmes
    py = totals.programme_year
    keep = _year_filter(py["year"], selection)
    reference_day = day_number(as_of.reference_date(today))
    year_end_days = np.array(
        [day_number(date(int(y), 12, 31)) for y in py["year"][keep].tolist()], dtype=np.int64
    )
    agency_codes = agency_codes_on(
        totals, py["programme"][keep], np.minimum(year_end_days, reference_day)
    )
    sums = ("appropriated_ore", "awarded_ore", "disbursed_ore", "recovered_ore")
    return [
        ProgrammeYearRow(programmes[p], y, _agency_name(totals, a), ap, aw, di, rc)
        for p, y, a, ap, aw, di, rc in zip(
            py["programme"][keep].tolist(),
            py["year"][keep].tolist(),
            agency_codes.tolist(),
            *(py[name][keep].tolist() for name in sums),
            strict=True,
        )
    ]


def _year_filter(years: npt.NDArray[Any], selection: Selection) -> npt.NDArray[np.bool_]:
    if selection.year is None:
        return np.ones(len(years), dtype=np.bool_)
    return np.asarray(years == selection.year, dtype=np.bool_)


def _agency_years(totals: BaseTotals, selection: Selection) -> list[AgencyYearRow]:
    day_rows = totals.programme_day
    keep = _year_filter(day_rows["year"], selection)
    agency_codes = agency_codes_on(
        totals, day_rows["programme"][keep], day_rows["effective_day"][keep]
    )
    years = day_rows["year"][keep].astype(np.int64)
    names = ("awarded_ore", "disbursed_ore", "recovered_ore")
    sums = np.stack([day_rows[name][keep] for name in names], axis=1).astype(np.int64)
    if len(years) == 0:
        return []
    first_year = int(years.min())
    year_span = int(years.max()) - first_year + 1
    # Agency codes start at -1 (unknown): shift by one so keys are non-negative.
    keys = (agency_codes + 1) * year_span + (years - first_year)
    unique_keys, inverse = np.unique(keys, return_inverse=True)
    grouped = np.zeros((len(unique_keys), len(names)), dtype=np.int64)
    np.add.at(grouped, inverse, sums)
    agency_plus_one, year_offsets = np.divmod(unique_keys, year_span)
    return [
        AgencyYearRow(_agency_name(totals, a - 1), y + first_year, aw, di, rc)
        for a, y, (aw, di, rc) in zip(
            agency_plus_one.tolist(), year_offsets.tolist(), grouped.tolist(), strict=True
        )
    ]
