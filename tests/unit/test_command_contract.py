"""The command contract (schemas/commands.py): what a well-formed command is, before any rule.

Commands arrive as JSON; `parse_command` validates them with the pydantic models and reports the
first problem as (field, value, message). These tests feed JSON objects and read that refusal.
"""

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import pytest
from pydantic import ValidationError

from commands.batch.parsing import parse_command
from schemas import commands as c
from schemas.errors import InvalidCommand
from schemas.money import MAX_AMOUNT_ORE
from schemas.recipients import luhn_is_valid
from tests.builders import (
    MALMO,
    STOCKHOLMS_LAN,
    VALID_ORGANISATIONSNUMMER,
    amend_appropriation,
    amend_award,
    application,
    disburse,
    establish,
    set_appropriation,
)

CommandT = TypeVar("CommandT", bound=c.CommandBase)
# Builds a command's JSON object with one money field set to the given value.
BuildJson = Callable[[Any], dict[str, Any]]


def as_json(command: c.CommandBase) -> dict[str, Any]:
    """A valid command as the JSON object a client would send."""
    return command.model_dump(mode="json", exclude_none=True)


def refusal(obj: dict[str, Any]) -> InvalidCommand:
    """The refusal of a JSON command; fails the test if it is accepted."""
    with pytest.raises(InvalidCommand) as raised:
        parse_command(orjson.dumps(obj))
    return raised.value


def accepted(obj: dict[str, Any]) -> c.CommandBase:
    """The command parsed from a JSON object that must be valid."""
    return parse_command(orjson.dumps(obj))


def accepted_as(obj: dict[str, Any], model: type[CommandT]) -> CommandT:
    """The command parsed from a JSON object that must be a valid `model`."""
    command = accepted(obj)
    assert isinstance(command, model), command
    return command


def submit(**fields: Any) -> dict[str, Any]:
    """A SubmitApplication JSON object with some fields replaced."""
    return {**as_json(application()), **fields}


# --------------------------------------------------------------- valid commands


@pytest.mark.parametrize(
    "command",
    [establish(), set_appropriation(), amend_appropriation(2018, -5), application(), disburse()],
    ids=lambda command: type(command).__name__,
)
def test_a_well_formed_command_is_accepted_as_its_type(command: c.CommandBase) -> None:
    """A valid JSON command parses to the model named by its `type`, with the same content."""
    parsed = accepted(as_json(command))
    assert type(parsed) is type(command)
    assert parsed == command


# --------------------------------------------------------------- money is integer öre

MONEY_FIELDS = [
    pytest.param(
        lambda v: {**as_json(set_appropriation()), "amount_ore": v},
        "amount_ore",
        id="SetAppropriation.amount_ore",
    ),
    pytest.param(
        lambda v: {**as_json(disburse()), "amount_ore": v},
        "amount_ore",
        id="DisburseFunds.amount_ore",
    ),
    pytest.param(
        lambda v: submit(amounts_ore={"2018": v}),
        "amounts_ore.2018",
        id="SubmitApplication.amounts_ore",
    ),
    pytest.param(
        lambda v: submit(total_cost_ore=v), "total_cost_ore", id="SubmitApplication.total_cost_ore"
    ),
    pytest.param(
        lambda v: {**as_json(amend_award()), "change_ore": v},
        "change_ore",
        id="AmendAward.change_ore",
    ),
]


@pytest.mark.parametrize(("build", "field"), MONEY_FIELDS)
@pytest.mark.parametrize(
    "value", [1.5, 1.0, "100", True, 1e3], ids=["1.5", "1.0", "str", "bool", "1e3"]
)
def test_money_is_an_integer_number_of_ore(build: BuildJson, field: str, value: object) -> None:
    """Floats (even 1.0), strings and booleans are refused as money, naming the field and value."""
    problem = refusal(build(value))
    assert problem.field == field
    assert problem.value == value


@pytest.mark.parametrize(
    ("build", "field"),
    [param for param in MONEY_FIELDS if param.values[1] != "change_ore"],
)
def test_amounts_are_never_negative(build: BuildJson, field: str) -> None:
    """A negative amount is refused naming the field; only change_ore carries a sign."""
    problem = refusal(build(-100))
    assert (problem.field, problem.value) == (field, -100)


def test_a_change_may_be_negative() -> None:
    """AmendAward and AmendAppropriation take signed changes: a cut or a reduction."""
    assert accepted_as(as_json(amend_award(change_ore=-100)), c.AmendAward).change_ore == -100
    cut = accepted_as(as_json(amend_appropriation(2018, -100)), c.AmendAppropriation)
    assert cut.change_ore == -100


@pytest.mark.parametrize(
    "command",
    [amend_award(), amend_appropriation(2018, 5)],
    ids=["AmendAward", "AmendAppropriation"],
)
def test_a_change_of_zero_is_refused(command: c.CommandBase) -> None:
    """change_ore 0 records nothing and is refused on `change_ore`."""
    problem = refusal({**as_json(command), "change_ore": 0})
    assert (problem.field, problem.value) == ("change_ore", 0)


def test_an_appropriation_may_be_zero_but_a_payment_may_not() -> None:
    """SetAppropriation accepts 0 öre; DisburseFunds needs at least 1 öre."""
    assert (
        accepted_as(
            {**as_json(set_appropriation()), "amount_ore": 0}, c.SetAppropriation
        ).amount_ore
        == 0
    )
    problem = refusal({**as_json(disburse()), "amount_ore": 0})
    assert problem.field == "amount_ore"


def test_amounts_have_an_upper_bound() -> None:
    """An amount above 10^15 öre is refused; 10^15 itself is accepted."""
    largest = accepted_as({**as_json(disburse()), "amount_ore": MAX_AMOUNT_ORE}, c.DisburseFunds)
    assert largest.amount_ore == MAX_AMOUNT_ORE
    problem = refusal({**as_json(disburse()), "amount_ore": MAX_AMOUNT_ORE + 1})
    assert problem.field == "amount_ore"


# --------------------------------------------------------------- years


@pytest.mark.parametrize("key", ["20x8", "18", "02018", "year", ""])
def test_amounts_ore_keys_are_years(key: str) -> None:
    """A key of amounts_ore that is not a four-digit year is refused, naming the key."""
    problem = refusal(submit(amounts_ore={key: 100}))
    assert problem.field.startswith("amounts_ore")
    assert problem.value == key


def test_amounts_ore_has_at_least_one_year() -> None:
    """An empty amounts_ore is refused on `amounts_ore`."""
    assert refusal(submit(amounts_ore={})).field == "amounts_ore"


@pytest.mark.parametrize("value", ["2018", 2018.0, 1989, 2101])
def test_a_year_field_is_an_integer_year(value: object) -> None:
    """`year` must be an integer between 1990 and 2100."""
    problem = refusal({**as_json(set_appropriation()), "year": value})
    assert (problem.field, problem.value) == ("year", value)


def test_a_programme_ends_no_earlier_than_it_starts() -> None:
    """EstablishProgramme with last_year before first_year is refused, naming both years."""
    problem = refusal({**as_json(establish()), "first_year": 2020, "last_year": 2019})
    assert "2019" in problem.message
    assert "2020" in problem.message


# --------------------------------------------------------------- recipients


def test_a_known_kommunkod_is_a_municipality() -> None:
    """Malmö's kommunkod 1280 is accepted for a municipality."""
    assert accepted_as(submit(recipient=MALMO), c.SubmitApplication).recipient == MALMO


@pytest.mark.parametrize("code", ["9999", "0100"])
def test_an_unknown_kommunkod_is_refused(code: str) -> None:
    """A four-digit code that is not one of the 290 municipalities is refused, naming the code."""
    problem = refusal(submit(recipient=code))
    assert code in problem.message
    assert "kommunkod" in problem.message


def test_an_unknown_kommunkod_is_refused_on_the_recipient_field() -> None:
    """The refusal of an unknown kommunkod names field `recipient` and the code as value."""
    problem = refusal(submit(recipient="9999"))
    assert (problem.field, problem.value) == ("recipient", "9999")


@pytest.mark.parametrize(
    ("code", "recipient_type"),
    [
        ("12", "municipality"),
        ("12800", "municipality"),
        ("1280", "region"),
        (MALMO, "organisation"),
    ],
)
def test_a_code_must_have_the_form_of_its_recipient_type(code: str, recipient_type: str) -> None:
    """Kommunkod is 4 digits, länskod 2, organisationsnummer 10; other forms are refused."""
    problem = refusal(submit(recipient=code, recipient_type=recipient_type))
    assert code in problem.message or problem.value == code


def test_a_known_lanskod_is_a_region() -> None:
    """Stockholm county's länskod 01 is accepted for a region."""
    region = accepted_as(
        submit(recipient=STOCKHOLMS_LAN, recipient_type="region"), c.SubmitApplication
    )
    assert region.recipient == "01"


@pytest.mark.parametrize("code", ["02", "99", "00"])
def test_an_unknown_lanskod_is_refused(code: str) -> None:
    """A two-digit code that is not one of the 21 counties is refused, naming the code."""
    problem = refusal(submit(recipient=code, recipient_type="region"))
    assert code in problem.message
    assert "länskod" in problem.message


def test_an_organisationsnummer_with_a_valid_check_digit_is_accepted() -> None:
    """A 10-digit organisationsnummer passing the Luhn check (2021005489) is accepted."""
    assert luhn_is_valid(VALID_ORGANISATIONSNUMMER)
    command = accepted_as(
        submit(recipient=VALID_ORGANISATIONSNUMMER, recipient_type="organisation"),
        c.SubmitApplication,
    )
    assert command.recipient == VALID_ORGANISATIONSNUMMER


def test_an_organisationsnummer_with_a_wrong_check_digit_is_refused() -> None:
    """An organisationsnummer failing the Luhn check is refused, naming it."""
    wrong = VALID_ORGANISATIONSNUMMER[:-1] + "8"
    assert not luhn_is_valid(wrong)
    problem = refusal(submit(recipient=wrong, recipient_type="organisation"))
    assert wrong in problem.message
    assert "check digit" in problem.message


@pytest.mark.parametrize("code", ["202100-5489", "202100548", "20210054890", "abcdefghij"])
def test_an_organisationsnummer_is_ten_digits_without_dash(code: str) -> None:
    """A dashed, short, long or non-numeric organisationsnummer is refused on `recipient`."""
    problem = refusal(submit(recipient=code, recipient_type="organisation"))
    assert (problem.field, problem.value) == ("recipient", code)


def test_an_unknown_recipient_type_is_refused() -> None:
    """recipient_type must be municipality, region or organisation."""
    problem = refusal(submit(recipient_type="company"))
    assert (problem.field, problem.value) == ("recipient_type", "company")


def test_an_eligibility_list_holds_known_codes() -> None:
    """EstablishProgramme with an unknown kommunkod in `eligible` is refused, naming the code."""
    problem = refusal({**as_json(establish()), "eligible": [MALMO, "9999"]})
    assert "9999" in problem.message


# --------------------------------------------------------------- shape of the command


def test_an_unknown_command_type_is_refused() -> None:
    """An unknown `type` is refused on `type`, listing the known types."""
    problem = refusal({**as_json(disburse()), "type": "PayEverything"})
    assert (problem.field, problem.value) == ("type", "PayEverything")
    assert "DisburseFunds" in problem.message


def test_a_command_without_a_type_is_refused() -> None:
    """A command without `type` is refused on `type`."""
    obj = as_json(disburse())
    del obj["type"]
    assert refusal(obj).field == "type"


@pytest.mark.parametrize(
    "command",
    [establish(), set_appropriation(), application(), disburse()],
    ids=lambda x: type(x).__name__,
)
def test_extra_fields_are_refused(command: c.CommandBase) -> None:
    """A field the contract does not define is refused, naming it."""
    problem = refusal({**as_json(command), "amount_sek": 5})
    assert (problem.field, problem.value) == ("amount_sek", 5)


@pytest.mark.parametrize(
    "field", ["command_id", "actor", "agency", "application_id", "payment_ref"]
)
def test_required_fields_are_named_when_missing(field: str) -> None:
    """A missing required field is refused naming it, with no value."""
    obj = as_json(disburse())
    del obj[field]
    problem = refusal(obj)
    assert (problem.field, problem.value) == (field, None)


@pytest.mark.parametrize("command_id", ["has space", "-leading-dash", "x" * 129])
def test_a_command_id_is_a_printable_identifier(command_id: str) -> None:
    """command_id has no whitespace, starts with a letter or digit and is at most 128 characters."""
    problem = refusal({**as_json(disburse()), "command_id": command_id})
    assert problem.field == "command_id"


@pytest.mark.parametrize("agency", ["Tillväxtverket", "a", "delmos_x"])
def test_an_agency_is_a_lower_case_slug(agency: str) -> None:
    """agency is a lower-case slug such as tillvaxtverket."""
    assert refusal({**as_json(disburse()), "agency": agency}).field == "agency"


def test_a_command_is_immutable() -> None:
    """A parsed command cannot be changed after validation."""
    command = accepted_as(as_json(disburse()), c.DisburseFunds)
    with pytest.raises(ValidationError):
        command.amount_ore = 5  # type: ignore[misc]  # frozen: what the test proves


# --------------------------------------------------------------- dates


def test_effective_date_is_an_iso_date() -> None:
    """effective_date YYYY-MM-DD is accepted as that date; leaving it out means 'today'."""
    dated = accepted({**as_json(disburse()), "effective_date": "2018-06-26"})
    assert dated.effective_date is not None and dated.effective_date.isoformat() == "2018-06-26"
    obj = as_json(disburse())
    del obj["effective_date"]
    assert accepted(obj).effective_date is None


@pytest.mark.parametrize(
    "value", ["2018/06/26", "26/06/2018", "2018-02-30", "2018-6-26", "20180626", "today"]
)
def test_effective_date_in_another_form_is_refused(value: object) -> None:
    """effective_date not of the form YYYY-MM-DD, or not a real date, is refused."""
    problem = refusal({**as_json(disburse()), "effective_date": value})
    assert (problem.field, problem.value) == ("effective_date", value)


@pytest.mark.parametrize(
    "value",
    [
        0,
        1529971200,
        "1529971200",
        "2018-06-26T00:00:00Z",
    ],
)
def test_effective_date_is_not_a_timestamp(value: object) -> None:
    """Numbers and date-times are not YYYY-MM-DD and are refused on `effective_date`."""
    problem = refusal({**as_json(disburse()), "effective_date": value})
    assert (problem.field, problem.value) == ("effective_date", value)
