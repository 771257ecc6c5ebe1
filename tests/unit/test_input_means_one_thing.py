"""Input that means one thing: codes, years and dates in ASCII digits only, no key given twice in
a command, and effective dates within the programme's life. Each refusal names the field (or
the key) and records nothing. Property tests over the command schemas."""

from datetime import date, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.batch.parsing import CommandParseError, parse_command
from ledger.domain.errors import RuleViolation
from ledger.domain.programme import EFFECTIVE_YEARS_AFTER_LAST_YEAR, Programme
from schemas import commands as c
from tests.builders import (
    MALMO,
    application,
    assert_recorded,
    assert_refused,
    context_for,
    disburse,
    establish,
    programme_with,
    set_appropriation,
)

# Digits of other scripts that Python and pydantic take for numbers: Arabic-Indic, Devanagari,
# fullwidth, Bengali, Thai, mathematical bold.
FOREIGN_DIGITS = st.characters(categories=["Nd"]).filter(lambda ch: not ch.isascii())


def as_json(command: c.CommandBase) -> dict[str, Any]:
    """A valid command as the JSON object a client would send."""
    return command.model_dump(mode="json", exclude_none=True)


def refusal(raw: bytes) -> CommandParseError:
    """The refusal of a JSON command; fails the test if it is accepted."""
    with pytest.raises(CommandParseError) as raised:
        parse_command(raw)
    return raised.value


@st.composite
def with_a_foreign_digit(draw: st.DrawFn, ascii_text: str) -> str:
    """`ascii_text` with one of its digits replaced by a digit of another script."""
    positions = [i for i, ch in enumerate(ascii_text) if ch.isdigit()]
    index = draw(st.sampled_from(positions))
    return ascii_text[:index] + draw(FOREIGN_DIGITS) + ascii_text[index + 1 :]


@given(code=with_a_foreign_digit(MALMO))
def test_a_recipient_code_in_another_scripts_digits_is_refused(code: str) -> None:
    obj = {**as_json(application()), "recipient": code}
    assert refusal(orjson.dumps(obj)).field == "recipient"


@given(key=with_a_foreign_digit("2019"))
def test_a_year_key_in_another_scripts_digits_is_refused(key: str) -> None:
    obj = {**as_json(application()), "amounts_ore": {"2019": 1_000, key: 2_000}}
    assert refusal(orjson.dumps(obj)).field.startswith("amounts_ore")


@given(day=with_a_foreign_digit("2019-06-30"))
def test_an_effective_date_in_another_scripts_digits_is_refused(day: str) -> None:
    obj = {**as_json(disburse()), "effective_date": day}
    assert refusal(orjson.dumps(obj)).field == "effective_date"


def _duplicated(obj: dict[str, Any], key: str, other: Any) -> bytes:
    """The object's JSON with `key` given a second time (with another value), at the end."""
    body = orjson.dumps(obj)
    return body[:-1] + b"," + orjson.dumps(key) + b":" + orjson.dumps(other) + b"}"


@given(data=st.data())
def test_a_key_given_twice_is_refused_naming_it(data: st.DataObject) -> None:
    obj = as_json(disburse())
    key = data.draw(st.sampled_from(sorted(obj)))
    other = data.draw(st.integers(0, 10**6) | st.text(max_size=8))
    assert refusal(_duplicated(obj, key, other)).field == key


@given(year_amounts=st.lists(st.integers(1, 10**9), min_size=2, max_size=2))
def test_a_key_given_twice_inside_amounts_is_refused(year_amounts: list[int]) -> None:
    obj = as_json(application())
    inner = orjson.dumps({"2019": year_amounts[0]})[:-1] + b',"2019":%d}' % year_amounts[1]
    raw = orjson.dumps({**obj, "amounts_ore": "PLACEHOLDER"}).replace(b'"PLACEHOLDER"', inner)
    assert refusal(raw).field == "2019"


def test_the_same_command_without_duplicates_is_accepted() -> None:
    assert isinstance(parse_command(orjson.dumps(as_json(disburse()))), c.DisburseFunds)


ESTABLISHED = establish()
FIRST_DAY = ESTABLISHED.effective_date or date(2018, 3, 15)
LAST_DAY = date(ESTABLISHED.last_year + EFFECTIVE_YEARS_AFTER_LAST_YEAR, 12, 31)


@given(days=st.integers(1, 400_000))
def test_an_effective_date_before_the_programme_existed_is_refused(days: int) -> None:
    programme = programme_with(established=ESTABLISHED)
    before = FIRST_DAY - timedelta(days=min(days, (FIRST_DAY - date.min).days))
    assert_refused(programme, set_appropriation(effective_date=before), "effective_date")


@given(days=st.integers(1, 2_900_000))
def test_an_effective_date_long_after_the_last_year_is_refused(days: int) -> None:
    programme = programme_with(established=ESTABLISHED)
    after = LAST_DAY + timedelta(days=min(days, (date.max - LAST_DAY).days))
    assert_refused(programme, set_appropriation(effective_date=after), "effective_date")


def test_the_programmes_life_is_open_to_its_first_and_last_days() -> None:
    programme = programme_with(established=ESTABLISHED)
    assert_recorded(programme, set_appropriation(effective_date=FIRST_DAY), "AppropriationSet")
    later = set_appropriation(year=ESTABLISHED.first_year + 1, effective_date=LAST_DAY)
    assert_recorded(programme, later, "AppropriationSet")


@pytest.mark.parametrize("day", [date(1, 1, 1), date(9999, 12, 31)])
def test_a_programme_cannot_be_established_at_the_ends_of_time(day: date) -> None:
    command = establish(effective_date=day)
    with pytest.raises(RuleViolation) as refused:
        Programme.establish(command, context_for(command))
    assert refused.value.field == "effective_date"
