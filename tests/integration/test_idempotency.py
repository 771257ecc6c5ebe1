"""Exactly once per command_id, and nothing written by a refused command (SQLite and PostgreSQL)."""

from collections.abc import Iterator

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.errors import CommandIdConflict, NotFound, RuleViolation
from tests.builders import (
    OTHER_PROGRAMME_ID,
    STOCKHOLM,
    application,
    award,
    disburse,
    establish,
    set_appropriation,
)


@pytest.fixture
def ledger(store_url: str) -> Iterator[GrantLedger]:
    """A ledger with SFS 2018:151 established, 1 000 000 öre for 2018 and Malmö's application."""
    app = GrantLedger(store_url=store_url)
    for command in (establish(), set_appropriation(2018, 1_000_000), application()):
        app.execute(command)
    try:
        yield app
    finally:
        app.close()


def log_state(ledger: GrantLedger) -> tuple[int | None, int, int]:
    """(max notification id, programme events, programme version): what any write changes."""
    events = list(ledger.programme_events())
    return (
        ledger.recorder.max_notification_id(),
        len(events),
        ledger.programme(events[0][1].originator_id).version,
    )


def test_the_same_command_twice_is_recorded_once(ledger: GrantLedger) -> None:
    """Re-sending a command reports its earlier outcome (duplicate, same position); no write."""
    command = award(amounts_ore={2018: 400_000})
    first = ledger.execute(command)
    before = log_state(ledger)
    again = ledger.execute(command)
    assert log_state(ledger) == before
    assert again.duplicate is True
    assert first.duplicate is False
    assert (again.position, again.aggregate_version, again.event_type, again.programme_id) == (
        first.position,
        first.aggregate_version,
        first.event_type,
        first.programme_id,
    )
    assert ledger.programme("sfs-2018-151").awarded_ore[2018] == 400_000


def test_a_command_resent_after_later_commands_reports_its_own_position(
    ledger: GrantLedger,
) -> None:
    """A duplicate of an older command reports that command's position, not the latest one."""
    first = ledger.execute(award(amounts_ore={2018: 400_000}))
    payment = disburse(year=2018, amount_ore=100_000)
    paid = ledger.execute(payment)
    ledger.execute(disburse(year=2018, amount_ore=50_000))
    again = ledger.execute(payment)
    assert again.duplicate is True
    assert again.position == paid.position == first.position + 1
    assert ledger.programme("sfs-2018-151").grants["app-malmo"].disbursed_ore[2018] == 150_000


def test_a_duplicate_is_recognised_by_a_fresh_ledger(ledger: GrantLedger, store_url: str) -> None:
    """Idempotency lives in the store: a restarted ledger also reports the earlier outcome."""
    command = award(amounts_ore={2018: 400_000})
    first = ledger.execute(command)
    before = log_state(ledger)
    restarted = GrantLedger(store_url=store_url)
    try:
        again = restarted.execute(command)
    finally:
        restarted.close()
    assert again.duplicate is True
    assert again.position == first.position
    assert log_state(ledger) == before


def test_a_command_id_reused_for_other_content_is_refused(ledger: GrantLedger) -> None:
    """The same command_id with different content is a CommandIdConflict and writes nothing."""
    command = award(amounts_ore={2018: 400_000})
    ledger.execute(command)
    before = log_state(ledger)
    changed = command.model_copy(update={"amounts_ore": {"2018": 300_000}})
    with pytest.raises(CommandIdConflict) as conflict:
        ledger.execute(changed)
    assert (conflict.value.field, conflict.value.value) == ("command_id", command.command_id)
    assert log_state(ledger) == before


def test_a_command_id_reused_for_another_command_type_is_refused(ledger: GrantLedger) -> None:
    """A command_id names one command: reusing it for another type is a CommandIdConflict."""
    first = award(amounts_ore={2018: 400_000})
    ledger.execute(first)
    before = log_state(ledger)
    with pytest.raises(CommandIdConflict):
        ledger.execute(disburse(year=2018, amount_ore=1, command_id=first.command_id))
    assert log_state(ledger) == before


def test_a_refused_command_writes_nothing(ledger: GrantLedger) -> None:
    """A RuleViolation leaves the log as it was: no event, no index entry, no notification."""
    before = log_state(ledger)
    too_much = award(amounts_ore={2018: 500_001})
    with pytest.raises(RuleViolation) as refusal:
        ledger.execute(too_much)
    assert refusal.value.field == "amounts_ore.2018"
    assert log_state(ledger) == before


def test_a_command_naming_something_unknown_writes_nothing(ledger: GrantLedger) -> None:
    """A NotFound (unknown application or programme) leaves the log as it was."""
    before = log_state(ledger)
    with pytest.raises(NotFound):
        ledger.execute(award("no-such-application", {2018: 1}))
    with pytest.raises(NotFound):
        ledger.execute(set_appropriation(2019, programme_id="no-such-programme"))
    assert log_state(ledger) == before


def test_a_refused_command_does_not_use_up_its_command_id(ledger: GrantLedger) -> None:
    """Since a refusal records nothing, the same command succeeds once the rule allows it."""
    command = award(amounts_ore={2018: 400_000}, agency="delmos")
    with pytest.raises(RuleViolation):
        ledger.execute(command)
    corrected = command.model_copy(update={"agency": "tillvaxtverket"})
    outcome = ledger.execute(corrected)
    assert outcome.duplicate is False
    assert outcome.event_type == "GrantAwarded"


def test_an_application_id_cannot_be_reused_in_another_programme(ledger: GrantLedger) -> None:
    """An application id already used in another programme is refused and writes nothing."""
    ledger.execute(establish(programme_id=OTHER_PROGRAMME_ID, eligible=None))
    before = log_state(ledger)
    reused = application("app-malmo", recipient=STOCKHOLM, programme_id=OTHER_PROGRAMME_ID)
    with pytest.raises(RuleViolation) as refusal:
        ledger.execute(reused)
    assert (refusal.value.field, refusal.value.value) == ("application_id", "app-malmo")
    assert "sfs-2018-151" in refusal.value.message
    assert log_state(ledger) == before
    assert ledger.programme(OTHER_PROGRAMME_ID).grants == {}


def test_an_application_id_cannot_be_reused_in_the_same_programme(ledger: GrantLedger) -> None:
    """A second SubmitApplication with the same application_id is refused and writes nothing."""
    before = log_state(ledger)
    with pytest.raises(RuleViolation) as refusal:
        ledger.execute(application("app-malmo", recipient=STOCKHOLM))
    assert refusal.value.field == "application_id"
    assert log_state(ledger) == before
