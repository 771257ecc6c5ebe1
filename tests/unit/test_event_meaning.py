"""Each event type declares once what it means for the balances; everything else derives it.

The declaration (schemas/meaning.py, on each model in schemas/events.py) is checked against the
model when the module loads: an event type without one, or with one its fields cannot carry,
stops the import. The replay store's kind codes are part of its file format and never change.
"""

from typing import ClassVar, Literal

import orjson
import pytest

from ledger.domain.programme import DECISIONS
from projections.consumer.columnizer import Columnizer
from projections.domain.facts import decode
from projections.domain.kinds import (
    EVENT_KIND_BY_TYPE,
    MEASURE_OF_KIND,
    EventKind,
    check_kind_codes,
)
from projections.replay.columns import Dictionaries
from schemas import commands as c
from schemas import events as e
from schemas.meaning import Meaning, Measure, Span
from schemas.money import PositiveOre, SignedOre

# The replay store keeps these codes in its files: a change here corrupts every store.
KIND_CODES = {
    "ProgrammeEstablished": 1,
    "AppropriationSet": 2,
    "AppropriationAmended": 3,
    "ProgrammeHandedOver": 4,
    "ApplicationSubmitted": 5,
    "ApplicationRejected": 6,
    "GrantAwarded": 7,
    "GrantExtended": 8,
    "AwardAmended": 9,
    "FundsDisbursed": 10,
    "FundsRecovered": 11,
}


def test_every_event_type_has_its_meaning_and_its_kind_code() -> None:
    names = {e.event_type_name(model) for model in e.EVENT_TYPES}
    assert names == set(e.MEANING_BY_TYPE) == set(EVENT_KIND_BY_TYPE)
    assert {name: int(kind) for name, kind in EVENT_KIND_BY_TYPE.items()} == KIND_CODES


def test_an_event_type_without_a_kind_code_stops_the_import() -> None:
    meanings = {**e.MEANING_BY_TYPE, "GrantWithdrawn": Meaning()}
    with pytest.raises(AssertionError, match="GrantWithdrawn"):
        check_kind_codes(EVENT_KIND_BY_TYPE, meanings)
    check_kind_codes(EVENT_KIND_BY_TYPE, e.MEANING_BY_TYPE)


def test_the_measures_are_derived_from_the_declarations() -> None:
    assert MEASURE_OF_KIND == {
        EventKind.APPROPRIATION_SET: Measure.APPROPRIATED,
        EventKind.APPROPRIATION_AMENDED: Measure.APPROPRIATED,
        EventKind.APPLICATION_SUBMITTED: Measure.REQUESTED,
        EventKind.GRANT_AWARDED: Measure.AWARDED,
        EventKind.GRANT_EXTENDED: Measure.AWARDED,
        EventKind.AWARD_AMENDED: Measure.AWARDED,
        EventKind.FUNDS_DISBURSED: Measure.DISBURSED,
        EventKind.FUNDS_RECOVERED: Measure.RECOVERED,
    }


def test_an_event_type_without_a_meaning_stops_the_import() -> None:
    class GrantWithdrawn(e.GrantEventData):
        type: Literal["GrantWithdrawn"] = "GrantWithdrawn"

    with pytest.raises(AssertionError, match="declares no `meaning`"):
        e.check_meaning(GrantWithdrawn)


@pytest.mark.parametrize(
    ("meaning", "complaint"),
    [
        (Meaning(Measure.DISBURSED, "amount_ore", Span.ONE_YEAR, signed=True), "signed=True"),
        (Meaning(Measure.APPROPRIATED, "amount_ore", Span.ONE_YEAR), "needs no recipient"),
        (Meaning(Measure.DISBURSED, "amount_ore", Span.YEARS), "no year map"),
        (Meaning(Measure.DISBURSED, "paid_ore", Span.ONE_YEAR), "no field paid_ore"),
    ],
)
def test_a_meaning_the_fields_cannot_carry_stops_the_import(
    meaning: Meaning, complaint: str
) -> None:
    class Payment(e.GrantEventData):
        meaning: ClassVar[Meaning]
        type: Literal["Payment"] = "Payment"
        year: int
        amount_ore: PositiveOre

    Payment.meaning = meaning
    with pytest.raises(AssertionError, match=complaint):
        e.check_meaning(Payment)


def test_a_change_is_signed_and_an_amount_is_not() -> None:
    class Correction(e.GrantEventData):
        meaning: ClassVar[Meaning] = Meaning(Measure.AWARDED, "change_ore", Span.ONE_YEAR)
        type: Literal["Correction"] = "Correction"
        year: int
        change_ore: SignedOre

    with pytest.raises(AssertionError, match="signed=False"):
        e.check_meaning(Correction)


def test_postings_follow_the_declaration() -> None:
    award = e.MEANING_BY_TYPE["GrantAwarded"]
    assert award.postings({"amounts_ore": {"2020": 5, "2019": 7}}) == ((2019, 7), (2020, 5))
    cut = e.MEANING_BY_TYPE["AppropriationAmended"]
    assert cut.postings({"year": 2019, "change_ore": -40, "amount_ore": 60}) == ((2019, -40),)
    assert e.MEANING_BY_TYPE["ApplicationRejected"].postings({"reason": "x"}) == ()
    assert e.MEANING_BY_TYPE["ProgrammeHandedOver"].agency({"to_agency": "delmos"}) == "delmos"


def test_one_decoder_serves_both_read_paths() -> None:
    """The projector's facts and the rebuild's columns come from the same decode."""
    envelope = {
        "position": 3,
        "type": "FundsRecovered",
        "schema_version": 1,
        "programme_id": "p",
        "effective_date": "2019-02-01",
        "recorded_at": "2019-03-03T10:00:00.000000Z",
        "hash": "ab" * 32,
        "data": {"programme_id": "p", "recipient": "1280", "year": 2018, "amount_ore": 50},
    }
    decoded = decode(envelope)
    assert (decoded.kind, decoded.postings, decoded.recipient) == (
        EventKind.FUNDS_RECOVERED,
        ((2018, 50),),
        "1280",
    )
    unknown = decode({**envelope, "type": "GrantWithdrawn"})
    assert (unknown.kind, unknown.postings) == (EventKind.OTHER, ())
    columnizer = Columnizer(Dictionaries())
    columnizer.add(orjson.dumps(envelope))
    columns = columnizer.build()
    assert columns.events.kind.tolist() == [EventKind.FUNDS_RECOVERED]
    assert columns.postings.amount_ore.tolist() == [50]


def test_every_command_but_establishment_has_one_decision() -> None:
    commands = {*c.PROGRAMME_COMMANDS, *c.APPLICATION_COMMANDS}
    assert set(DECISIONS) == commands - {c.EstablishProgramme}
