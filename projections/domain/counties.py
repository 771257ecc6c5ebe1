"""The county-year view: recipient-year rows rolled up to their län.

A municipality counts for the län its kommunkod belongs to (the reference data), a region (a
länskod recipient) for its own län. Organisations have no län in the reference data and are
left out of this view: it answers "how much went to the municipalities and the region of a
county", not "how much was spent in it".
"""

from collections import defaultdict
from collections.abc import Iterable

from projections.domain.rows import CountyYearRow, RecipientYearRow
from schemas.recipients import counties, municipality_counties

SUMMED = 4  # requested, awarded, disbursed, recovered


def county_of(recipient: str) -> str | None:
    """The länskod a recipient code counts for, None for an organisation."""
    if recipient in counties():
        return recipient
    return municipality_counties().get(recipient)


def county_rows(rows: Iterable[RecipientYearRow]) -> list[CountyYearRow]:
    """Sum recipient-year rows per programme, län and year (sorted by key)."""
    sums: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0] * SUMMED)
    for row in rows:
        county = county_of(row.recipient)
        if county is None:
            continue
        total = sums[(row.programme_id, county, row.year)]
        total[0] += row.requested_ore
        total[1] += row.awarded_ore
        total[2] += row.disbursed_ore
        total[3] += row.recovered_ore
    return sorted(CountyYearRow(p, c, y, *money) for (p, c, y), money in sums.items())
