"""The three balance views from base totals: agency attribution, derived rows, filters."""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

from projections.domain.asof import CURRENT, AsOf
from projections.domain.balances import Balances
from projections.domain.rows import AgencyYearRow, ProgrammeYearRow, View
from projections.domain.selection import EVERYTHING, Selection
from projections.domain.time_units import day_number
from projections.domain.timeline import UNKNOWN_AGENCY
from projections.replay.recipient_year_rows import RecipientYearRows
from projections.replay.totals import BaseTotals, KnownTimeline

I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

# Agency code for "no timeline entry known".
UNKNOWN_AGENCY_CODE = -1


def agency_codes_on(timeline: KnownTimeline, programme_codes: I64, days: I64) -> I64:
    """Per (programme, day): the agency in charge, as the write side decides it.

    The last timeline entry, in position order, effective by the day; before the first entry
    the programme's first agency. Entries are few, so one vectorised pass per entry.
    """
    result = np.full(len(days), UNKNOWN_AGENCY_CODE, dtype=np.int64)
    seen_first: set[int] = set()
    for programme, since, agency in zip(
        timeline.programme.tolist(),
        timeline.effective_day.tolist(),
        timeline.agency.tolist(),
        strict=True,
    ):
        rows = programme_codes == programme
        if programme not in seen_first:
            seen_first.add(programme)
            result[rows] = agency
        result[rows & (days >= since)] = agency
    return result


def _agency_name(totals: BaseTotals, code: int) -> str:
    return UNKNOWN_AGENCY if code == UNKNOWN_AGENCY_CODE else totals.names.agencies[code]


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
        tuple(recipient_year_rows(totals, selection)) if only in (None, View.RECIPIENT_YEAR) else ()
    )
    programme_rows = (
        _programme_years(totals, selection, as_of, today)
        if only in (None, View.PROGRAMME_YEAR)
        else ()
    )
    agency_rows = _agency_years(totals, selection) if only in (None, View.AGENCY_YEAR) else ()
    return Balances(recipient_rows, programme_rows, agency_rows)


def _year_filter(years: I64, selection: Selection) -> Flags:
    if selection.year is None:
        return np.ones(len(years), dtype=np.bool_)
    return np.asarray(years == selection.year, dtype=np.bool_)


def recipient_year_rows(totals: BaseTotals, selection: Selection) -> RecipientYearRows:
    """The recipient-year rows the selection keeps, as columns; in key order already (see
    projections.replay.totals): no sorting here."""
    names = totals.names
    table = totals.recipient_year
    keep = _year_filter(table.year, selection)
    if selection.recipient is not None:
        recipients = names.recipients
        code = recipients.index(selection.recipient) if selection.recipient in recipients else -1
        keep &= table.recipient == code
    rows = RecipientYearRows(table, names.programmes, names.recipients)
    return rows if bool(keep.all()) else rows.where(keep)


def _programme_years(
    totals: BaseTotals, selection: Selection, as_of: AsOf, today: date
) -> tuple[ProgrammeYearRow, ...]:
    """Rows in key order already; the agency is the one in charge at year end (or the as-of
    date, or today, whichever comes first)."""
    programme_years = totals.programme_year
    keep = _year_filter(programme_years.year, selection)
    reference_day = day_number(as_of.reference_date(today))
    years = programme_years.year[keep]
    year_end_days = np.array(
        [day_number(date(int(year), 12, 31)) for year in years.tolist()], dtype=np.int64
    )
    agency_codes = agency_codes_on(
        totals.timeline, programme_years.programme[keep], np.minimum(year_end_days, reference_day)
    )
    programmes = totals.names.programmes
    sums = (
        programme_years.appropriated_ore,
        programme_years.awarded_ore,
        programme_years.disbursed_ore,
        programme_years.recovered_ore,
    )
    return tuple(
        ProgrammeYearRow(programmes[p], y, _agency_name(totals, a), ap, aw, di, rc)
        for p, y, a, ap, aw, di, rc in zip(
            programme_years.programme[keep].tolist(),
            years.tolist(),
            agency_codes.tolist(),
            *(values[keep].tolist() for values in sums),
            strict=True,
        )
    )


def _agency_years(totals: BaseTotals, selection: Selection) -> tuple[AgencyYearRow, ...]:
    day_rows = totals.programme_day
    keep = _year_filter(day_rows.year, selection)
    if not bool(keep.any()):
        return ()
    agency_codes = agency_codes_on(
        totals.timeline, day_rows.programme[keep], day_rows.effective_day[keep]
    )
    years = day_rows.year[keep]
    sums = np.stack(
        [day_rows.awarded_ore[keep], day_rows.disbursed_ore[keep], day_rows.recovered_ore[keep]],
        axis=1,
    )
    first_year = int(years.min())
    year_span = int(years.max()) - first_year + 1
    # Agency codes start at -1 (unknown): shift by one so keys are non-negative.
    keys = (agency_codes + 1) * year_span + (years - first_year)
    unique_keys, inverse = np.unique(keys, return_inverse=True)
    grouped = np.zeros((len(unique_keys), sums.shape[1]), dtype=np.int64)
    np.add.at(grouped, inverse.reshape(-1), sums)
    agency_plus_one, year_offsets = np.divmod(unique_keys, year_span)
    return tuple(
        sorted(
            AgencyYearRow(_agency_name(totals, a - 1), y + first_year, aw, di, rc)
            for a, y, (aw, di, rc) in zip(
                agency_plus_one.tolist(), year_offsets.tolist(), grouped.tolist(), strict=True
            )
        )
    )
