"""A programme's state survives a snapshot round trip exactly, and a decision can be taken back.

Snapshots (ledger/application/snapshots.py) store `encode_programme`; a lost write race rolls the
cached programme back with `rollback_unsaved` instead of rebuilding it. Both must give exactly the
state a replay of the stream gives, for every kind of event; these tests need no database.
"""

from datetime import date

import pytest

from ledger.domain.errors import RuleViolation
from ledger.domain.programme import Programme
from ledger.domain.programme_state import decode_programme, encode_programme
from schemas import commands as c
from tests.builders import (
    GOTEBORG,
    LANDSKRONA,
    MALMO,
    STOCKHOLM,
    SUCCESSOR,
    amend_appropriation,
    amend_award,
    application,
    award,
    context_for,
    disburse,
    extend,
    hand_over,
    perform,
    programme_with,
    recover,
    reject,
    set_appropriation,
)

AFTER_HANDOVER = date(2021, 2, 1)
THREE_YEARS = {2018: 300_000, 2019: 300_000, 2020: 300_000}


def a_programme_with_every_kind_of_event() -> Programme:
    """Appropriations, a cut, awards, a rejection, an extension, amendments, payments, recoveries
    and a handover: every event type changes some part of the state."""
    return programme_with(
        *(set_appropriation(year, 2_000_000) for year in (2018, 2019, 2020, 2021)),
        application("app-malmo", THREE_YEARS, recipient=MALMO),
        award("app-malmo", THREE_YEARS, conditions=["rapport varje år"]),
        application("app-stockholm", {2018: 100_000}, recipient=STOCKHOLM),
        reject("app-stockholm"),
        application("app-goteborg", {2018: 200_000}, recipient=GOTEBORG),
        award("app-goteborg", {2018: 200_000}),
        extend("app-goteborg", {2019: 50_000}),
        amend_award("app-malmo", 2019, 10_000),
        amend_award("app-malmo", 2020, -20_000),
        disburse("app-malmo", 2018, 250_000),
        recover("app-malmo", 2018, 30_000),
        amend_appropriation(2021, -500_000),
        hand_over(SUCCESSOR),
        application("app-landskrona", {2021: 1}, recipient=LANDSKRONA, **after_handover()),
    )


def after_handover() -> dict[str, object]:
    """A command of the new agency after the handover."""
    return {"agency": SUCCESSOR, "effective_date": AFTER_HANDOVER}


def next_commands() -> list[c.CommandBase]:
    """One command of each kind the new agency may take next, each accepted on its own."""
    return [
        set_appropriation(2022, 5, **after_handover()),
        amend_appropriation(2019, 7, **after_handover()),
        hand_over("boverket", decision_ref="x", effective_date=date(2021, 3, 1), agency=SUCCESSOR),
        application("app-new", {2021: 5}, recipient=STOCKHOLM, **after_handover()),
        reject("app-landskrona", **after_handover()),
        award("app-landskrona", {2021: 1}, **after_handover()),
        extend("app-malmo", {2021: 3}, **after_handover()),
        amend_award("app-goteborg", 2019, -1, **after_handover()),
        disburse("app-malmo", 2019, 5, **after_handover()),
        recover("app-malmo", 2018, 5, **after_handover()),
    ]


def same_state(left: Programme, right: Programme) -> None:
    """Every attribute equal, grants compared decoded."""
    assert encode_programme(left) == encode_programme(right)
    assert dict(left.grants) == dict(right.grants)
    state = set(vars(left)) - {"grants", "_pending", "_undo"}
    assert {name: getattr(left, name) for name in state} == {
        name: getattr(right, name) for name in state
    }


def test_a_decoded_snapshot_holds_exactly_the_replayed_state():
    """decode(encode(p)) has every attribute of p, down to each grant's per-year amounts."""
    programme = a_programme_with_every_kind_of_event()
    restored = decode_programme(encode_programme(programme))
    same_state(restored, programme)
    assert restored.version == programme.version == 19


@pytest.mark.parametrize("command", next_commands(), ids=lambda command: command.type)
def test_a_restored_programme_decides_every_command_as_the_replayed_one(command: c.CommandBase):
    """The next command gives the same event on the replayed and on the restored programme."""
    replayed = a_programme_with_every_kind_of_event()
    restored = decode_programme(encode_programme(replayed))
    context = context_for(command)
    outcomes = []
    for programme in (replayed, restored):
        perform(programme, command, context=context)
        outcomes.append([event.model_dump() for event in programme.collect_events()])
    assert outcomes[0] == outcomes[1]
    assert len(outcomes[0]) == 1
    same_state(replayed, restored)


def test_a_restored_programme_refuses_as_the_replayed_one():
    """Refusals too: the same field and message on both."""
    replayed = a_programme_with_every_kind_of_event()
    restored = decode_programme(encode_programme(replayed))
    too_much = disburse("app-malmo", 2019, 10**9, **after_handover())
    refusals = []
    for programme in (replayed, restored):
        with pytest.raises(RuleViolation) as refusal:
            perform(programme, too_much)
        refusals.append(refusal.value.as_dict())
    assert refusals[0] == refusals[1]


@pytest.mark.parametrize("command", next_commands(), ids=lambda command: command.type)
def test_a_decision_whose_save_failed_is_taken_back_exactly(command: c.CommandBase):
    """rollback_unsaved restores the state before the decision, for every kind of event."""
    programme = a_programme_with_every_kind_of_event()
    untouched = a_programme_with_every_kind_of_event()
    saved_version = programme.version
    perform(programme, command)
    assert programme.collect_events(), "the command is accepted"
    programme.rollback_unsaved(saved_version)
    same_state(programme, untouched)
    # And the programme decides on as before: the same command is accepted again.
    perform(programme, command)
    assert programme.version == saved_version + 1


def test_only_what_was_decided_after_the_saved_version_can_be_taken_back():
    """Rolling back to a version the undo journal does not start at fails loudly."""
    programme = a_programme_with_every_kind_of_event()
    with pytest.raises(AssertionError, match="nothing decided"):
        programme.rollback_unsaved(programme.version)
    perform(programme, disburse("app-malmo", 2019, 5, **after_handover()))
    with pytest.raises(AssertionError, match="nothing decided"):
        programme.rollback_unsaved(programme.version - 2)


def test_grants_a_command_did_not_read_go_back_into_the_next_snapshot_unchanged():
    """Restored grants stay their stored rows until used; the re-encoded snapshot is identical."""
    encoded = encode_programme(a_programme_with_every_kind_of_event())
    restored = decode_programme(encoded)
    assert restored.grants["app-goteborg"].awarded_ore == {2018: 200_000, 2019: 50_000}
    assert encode_programme(restored) == encoded
    assert "app-nobody" not in restored.grants
    assert len(restored.grants) == 4


def test_state_the_snapshot_codecs_do_not_cover_fails_loudly():
    """A new Programme attribute without a codec stops the snapshot instead of being dropped."""
    programme = a_programme_with_every_kind_of_event()
    programme.reserve_ore = 5  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="reserve_ore"):
        encode_programme(programme)


def test_a_programme_with_unsaved_events_cannot_be_snapshotted():
    """Only saved state goes into a snapshot."""
    programme = a_programme_with_every_kind_of_event()
    perform(programme, disburse("app-malmo", 2019, 5, **after_handover()))
    with pytest.raises(AssertionError, match="unsaved"):
        encode_programme(programme)
