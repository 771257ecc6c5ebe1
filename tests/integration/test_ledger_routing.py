"""The rules at the application boundary: a command's programme or application must exist, and a
programme id is established once. GrantLedger on a throwaway SQLite store."""

from pathlib import Path

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.errors import NotFound, RuleViolation
from tests.builders import award, establish, set_appropriation


def test_commands_on_an_unknown_programme_or_application_are_refused(tmp_path: Path) -> None:
    """A programme or application the ledger does not know is NotFound, naming the id."""
    ledger = GrantLedger(store_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with pytest.raises(NotFound) as unknown_programme:
            ledger.execute(set_appropriation(programme_id="no-such-programme"))
        assert (unknown_programme.value.field, unknown_programme.value.value) == (
            "programme_id",
            "no-such-programme",
        )
        with pytest.raises(NotFound) as unknown_application:
            ledger.execute(award(application_id="no-such-application"))
        assert (unknown_application.value.field, unknown_application.value.value) == (
            "application_id",
            "no-such-application",
        )
        assert list(ledger.programme_events()) == []
        ledger.execute(establish())
        assert ledger.execute(set_appropriation()).event_type == "AppropriationSet"
    finally:
        ledger.close()


def test_a_programme_id_cannot_be_established_twice(tmp_path: Path) -> None:
    """A second EstablishProgramme with the same programme_id is refused on `programme_id`."""
    ledger = GrantLedger(store_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        ledger.execute(establish())
        with pytest.raises(RuleViolation) as refusal:
            ledger.execute(establish(name="Another name"))
        assert refusal.value.field == "programme_id"
        assert len(list(ledger.programme_events())) == 1
    finally:
        ledger.close()
