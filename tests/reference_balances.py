"""The test oracle: balances by a plain fold over the event store's events.

Deliberately simple and independent of what it checks: no envelope decoding, no numpy, no SQL,
and not the event types' declared meaning (schemas/meaning.py) that the product derives its
postings from; `_money` below says again, by hand, what each event means for money. It reads
the recorded domain events in global order and adds them up. Tests hold the live projection,
both rebuilds and the as-of engine to exactly this answer.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date

from ledger.domain.recorded import ProgrammeEvent
from projections.domain.asof import CURRENT, AsOf
from projections.domain.balances import Balances
from projections.domain.rows import AgencyYearRow, ProgrammeYearRow, RecipientYearRow
from projections.domain.time_units import day_number, micros_of, year_end
from projections.domain.timeline import TimelineEntry, agency_on
from schemas import events as e

REQUESTED, AWARDED, DISBURSED, RECOVERED, APPROPRIATED = range(5)


def _money(  # noqa: PLR0911 (one return per event type, spelt out by hand on purpose)
    data: e.AnyEventData,
) -> list[tuple[int, int, int]]:
    """(measure, year, öre) of one event's data."""
    if isinstance(data, e.ApplicationSubmitted):
        return [(REQUESTED, int(y), a) for y, a in data.amounts_ore.items()]
    if isinstance(data, e.GrantAwarded | e.GrantExtended):
        return [(AWARDED, int(y), a) for y, a in data.amounts_ore.items()]
    if isinstance(data, e.AwardAmended):
        return [(AWARDED, data.year, data.change_ore)]
    if isinstance(data, e.FundsDisbursed):
        return [(DISBURSED, data.year, data.amount_ore)]
    if isinstance(data, e.FundsRecovered):
        return [(RECOVERED, data.year, data.amount_ore)]
    if isinstance(data, e.AppropriationSet):
        return [(APPROPRIATED, data.year, data.amount_ore)]
    if isinstance(data, e.AppropriationAmended):
        return [(APPROPRIATED, data.year, data.change_ore)]
    # An event type this oracle was not told about must fail the test, not post nothing.
    assert isinstance(
        data, e.ProgrammeEstablished | e.ProgrammeHandedOver | e.ApplicationRejected
    ), f"the oracle does not know what {data.type} means for money"
    return []


def reference_balances(  # noqa: PLR0912 (the oracle is one plain fold, read top to bottom)
    events: Iterable[ProgrammeEvent], as_of: AsOf = CURRENT, *, today: date
) -> Balances:
    """Balances of `events` (every programme event, in global order from position 1)."""
    by_recipient: dict[tuple[str, str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    by_programme: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    timelines: dict[str, list[TimelineEntry]] = defaultdict(list)
    agency_money: list[tuple[str, int, int, int, int]] = []  # programme, day, measure, year, öre
    appropriation_check: dict[tuple[str, int], int] = defaultdict(int)

    for position, event in enumerate(events, start=1):
        data = event.data
        programme_id = data.programme_id
        recorded_at_us = micros_of(event.recorded_at)
        day = day_number(event.effective_date)
        if as_of.knows(position, recorded_at_us):
            if isinstance(data, e.ProgrammeEstablished):
                timelines[programme_id].append(
                    TimelineEntry(programme_id, position, day, data.administering_agency)
                )
            elif isinstance(data, e.ProgrammeHandedOver):
                timelines[programme_id].append(
                    TimelineEntry(programme_id, position, day, data.to_agency)
                )
        money = _money(data)
        if as_of.is_current:
            # Cross-check with the write side: an amendment states the year's new total.
            for measure, year, amount in money:
                if measure == APPROPRIATED:
                    appropriation_check[(programme_id, year)] += amount
            if isinstance(data, e.AppropriationAmended):
                assert appropriation_check[(programme_id, data.year)] == data.amount_ore, data
        if not as_of.counts(position, recorded_at_us, day):
            continue
        # A row exists once a posting of one of its view's measures reached it.
        for measure, year, amount in money:
            if measure != APPROPRIATED:
                assert isinstance(data, e.GrantEventData)
                by_recipient[(programme_id, data.recipient, year)][measure] += amount
            if measure != REQUESTED:
                by_programme[(programme_id, year)][measure] += amount
            if measure in (AWARDED, DISBURSED, RECOVERED):
                agency_money.append((programme_id, day, measure, year, amount))

    reference_day = day_number(as_of.reference_date(today))
    recipient_rows = [RecipientYearRow(p, r, y, *sums) for (p, r, y), sums in by_recipient.items()]
    programme_rows = [
        ProgrammeYearRow(
            programme_id=p,
            year=y,
            agency=agency_on(timelines[p], min(day_number(year_end(y)), reference_day)),
            appropriated_ore=sums[APPROPRIATED],
            awarded_ore=sums[AWARDED],
            disbursed_ore=sums[DISBURSED],
            recovered_ore=sums[RECOVERED],
        )
        for (p, y), sums in by_programme.items()
    ]
    by_agency: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for programme_id, day, measure, year, amount in agency_money:
        by_agency[(agency_on(timelines[programme_id], day), year)][measure] += amount
    agency_rows = [
        AgencyYearRow(a, y, sums[AWARDED], sums[DISBURSED], sums[RECOVERED])
        for (a, y), sums in by_agency.items()
    ]
    return Balances.of(recipient_rows, programme_rows, agency_rows)
