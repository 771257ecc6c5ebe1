"""The reference fold on a hand-checked ledger: backdating, a handover, a cut, a recovery.

Every number below is worked out by hand from the commands; the numpy engine and the read store
must give the same rows.
"""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.recorded import ProgrammeEvent
from projections.domain.asof import AsOf
from projections.domain.balances import Balances
from projections.domain.reference import reference_balances
from projections.domain.rows import AgencyYearRow, ProgrammeYearRow, RecipientYearRow
from projections.domain.selection import Selection
from projections.store.read_store import ReadStore
from schemas import commands as c
from tests import builders as b
from tests.ledgers.balances_each_way import (
    apply_envelopes,
    engine_balances,
    stored_view_balances,
    wire_envelopes,
)

TODAY = date(2026, 1, 1)
PROGRAMME = b.PROGRAMME_ID
TVV, DELMOS = b.AGENCY, b.SUCCESSOR


def at(day: date, hour: int = 10) -> datetime:
    """A recording instant."""
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def commands() -> list[tuple[c.CommandBase, datetime]]:
    """The ledger as (command, recorded at), in the order it is recorded."""
    return [
        (b.establish(), at(date(2018, 3, 15), 9)),
        (b.set_appropriation(2018, 1_000_000), at(date(2018, 3, 15), 10)),
        (b.set_appropriation(2019, 1_000_000), at(date(2018, 3, 15), 11)),
        (b.application(amounts_ore={2018: 500_000, 2019: 400_000}), at(date(2018, 6, 26), 9)),
        (b.award(amounts_ore={2018: 500_000, 2019: 300_000}), at(date(2018, 6, 26), 10)),
        (
            b.disburse(year=2018, amount_ore=200_000, effective_date=date(2018, 7, 1)),
            at(date(2018, 7, 1)),
        ),
        # Recorded ahead: Delmos takes over on 2019-01-01.
        (b.hand_over(DELMOS, effective_date=date(2019, 1, 1)), at(date(2018, 12, 20))),
        (
            b.disburse(
                year=2019, amount_ore=100_000, agency=DELMOS, effective_date=date(2019, 3, 1)
            ),
            at(date(2019, 3, 1)),
        ),
        # Backdated: recorded after the handover, effective before it (Tillväxtverket's time).
        (
            b.disburse(
                year=2018, amount_ore=100_000, agency=DELMOS, effective_date=date(2018, 12, 15)
            ),
            at(date(2019, 3, 2)),
        ),
        (
            b.recover(year=2018, amount_ore=50_000, agency=DELMOS, effective_date=date(2019, 2, 1)),
            at(date(2019, 3, 3)),
        ),
        # A cut below what 2019 has awarded: over-committed by 100 000.
        (
            b.amend_appropriation(2019, -800_000, agency=DELMOS, effective_date=date(2019, 4, 1)),
            at(date(2019, 4, 1)),
        ),
        (
            b.amend_award(
                year=2018, change_ore=-100_000, agency=DELMOS, effective_date=date(2019, 5, 1)
            ),
            at(date(2019, 5, 1)),
        ),
    ]


# After the 2019 payment was recorded, before the backdated one.
KNOWN_BEFORE_BACKDATING = at(date(2019, 3, 1), 12)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[ProgrammeEvent]:
    """The recorded events of `commands()`."""
    ledger = GrantLedger(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}")
    try:
        for command, recorded_at in commands():
            ledger.execute(command, now=recorded_at)
        return [event for _, event in ledger.programme_events()]
    finally:
        ledger.close()


def malmo(
    year: int, requested: int, awarded: int, disbursed: int, recovered: int
) -> RecipientYearRow:
    """A Malmö row of the default programme."""
    return RecipientYearRow(PROGRAMME, b.MALMO, year, requested, awarded, disbursed, recovered)


EXPECTED = Balances.of(
    [malmo(2018, 500_000, 400_000, 300_000, 50_000), malmo(2019, 400_000, 300_000, 100_000, 0)],
    [
        ProgrammeYearRow(PROGRAMME, 2018, TVV, 1_000_000, 400_000, 300_000, 50_000),
        ProgrammeYearRow(PROGRAMME, 2019, DELMOS, 200_000, 300_000, 100_000, 0),
    ],
    [
        AgencyYearRow(DELMOS, 2018, -100_000, 0, 50_000),
        AgencyYearRow(DELMOS, 2019, 0, 100_000, 0),
        AgencyYearRow(TVV, 2018, 500_000, 300_000, 0),
        AgencyYearRow(TVV, 2019, 300_000, 0, 0),
    ],
)


def test_reference_adds_up_the_ledger_by_hand(events: list[ProgrammeEvent]) -> None:
    """Backdated payment to Tillväxtverket, cut shows as over-commitment, recovery counted."""
    balances = reference_balances(events, today=TODAY)
    assert balances == EXPECTED
    assert balances.programme_years[1].available_ore == -100_000
    assert balances.recipient_years[0].outstanding_ore == 100_000


def test_as_of_date_counts_backdated_events_and_not_later_ones(
    events: list[ProgrammeEvent],
) -> None:
    """As of 2018-12-31: the backdated payment counts; the 2019 recovery and reduction do not."""
    balances = reference_balances(events, AsOf(as_of_date=date(2018, 12, 31)), today=TODAY)
    assert balances.recipient_years == (
        malmo(2018, 500_000, 500_000, 300_000, 0),
        malmo(2019, 400_000, 300_000, 0, 0),
    )
    # On 2018-12-31 Tillväxtverket was in charge of 2019 too (the handover is 2019-01-01).
    assert [row.agency for row in balances.programme_years] == [TVV, TVV]


def test_as_known_at_ignores_what_was_recorded_later(events: list[ProgrammeEvent]) -> None:
    """Known before the backdated payment was recorded: only the first 2018 payment."""
    balances = reference_balances(events, AsOf(as_known_at=KNOWN_BEFORE_BACKDATING), today=TODAY)
    assert balances.recipient_years[0].disbursed_ore == 200_000


def test_at_position_before_the_handover_keeps_the_first_agency(
    events: list[ProgrammeEvent],
) -> None:
    """Up to position 6 the handover is unknown: every year is Tillväxtverket's."""
    balances = reference_balances(events, AsOf(at_position=6), today=TODAY)
    assert {row.agency for row in balances.programme_years} == {TVV}
    assert {row.agency for row in balances.agency_years} == {TVV}


@pytest.mark.parametrize(
    "as_of",
    [
        AsOf(),
        AsOf(as_of_date=date(2018, 12, 31)),
        AsOf(at_position=6),
        AsOf(as_known_at=KNOWN_BEFORE_BACKDATING),
        AsOf(as_of_date=date(2019, 2, 15), as_known_at=at(date(2019, 3, 3), 12)),
    ],
)
def test_engine_agrees_with_the_reference(events: list[ProgrammeEvent], as_of: AsOf) -> None:
    """The numpy engine over the replay columns, for every kind of as-of question."""
    assert engine_balances(wire_envelopes(events), as_of, today=TODAY) == reference_balances(
        events, as_of, today=TODAY
    )


def test_engine_splits_one_programme_by_agency(events: list[ProgrammeEvent]) -> None:
    """--programme restricts the agency-year split to that programme's money."""
    balances = engine_balances(
        wire_envelopes(events), AsOf(), today=TODAY, selection=Selection(programme_id=PROGRAMME)
    )
    assert balances.agency_years == EXPECTED.agency_years


def test_read_store_views_agree_with_the_reference(
    events: list[ProgrammeEvent], tmp_path: Path
) -> None:
    """Applied batch by batch to SQLite, the views show the reference's rows (today: real)."""
    today = datetime.now(tz=UTC).date()
    with ReadStore.open(f"sqlite:///{tmp_path / 'read.db'}") as read_store:
        apply_envelopes(read_store, wire_envelopes(events), batch_events=7)
        assert stored_view_balances(read_store) == reference_balances(events, today=today)
