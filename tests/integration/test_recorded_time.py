"""recorded_at: system time, never running backwards within a programme's stream."""

from datetime import UTC, datetime, timedelta

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.errors import NotFound
from tests.fill import disbursements, setup_commands


def test_a_write_stamped_before_anothers_commit_is_not_recorded_earlier(
    sqlite_store_url: str,
) -> None:
    """A clock read before loading the programme is raised to the stream's last recorded_at."""
    ledger = GrantLedger(sqlite_store_url)
    later = datetime(2026, 6, 1, 12, 0, 1, tzinfo=UTC)
    for command in setup_commands():
        ledger.execute(command, now=later)
    payment = next(disbursements(0, 1))
    outcome = ledger.execute(payment, now=later - timedelta(seconds=5))
    event = ledger.programme_event(outcome.programme_id, outcome.aggregate_version)
    assert event.recorded_at == later
    ledger.close()


def test_an_index_entry_id_is_not_a_programme(sqlite_store_url: str) -> None:
    """Naming a reserved index id as programme is 'no such programme', not a crash."""
    ledger = GrantLedger(sqlite_store_url)
    for command in setup_commands():
        ledger.execute(command)
    with pytest.raises(NotFound) as refusal:
        ledger.programme("command:fill-est")
    assert refusal.value.field == "programme_id"
    ledger.close()
