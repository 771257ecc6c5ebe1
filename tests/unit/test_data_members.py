"""Members of the export's `data` read in C (projections/replay/data_members.c) mean exactly what
the regular expressions the offline replay used before mean, run by Arrow over the same text:
on the reference scenario and on fuzzed text (keys missing, repeated, inside other text,
negative numbers, maps of years of 0..n entries, numbers too large for 64 bits). A map of years
that the expression could not read is a ValueError naming the row, as is a forged column."""

import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.event_table import column_buffers, event_batch
from projections.replay.data_members import integer_members, string_members, year_maps
from tests.ledgers.envelopes import synthetic_envelopes

INTEGER_KEYS = ("amount_ore", "change_ore", "year")
YEARS_KEY = b'"amounts_ore":{'
RECIPIENT_KEY = b'"recipient":"'
SCENARIO_EVENTS = 2_000


def regex_integers(data: pa.Array, name: str) -> list[int]:
    """The expression the column source used: `"name":(-?[0-9]+)`, 0 where none."""
    found = pc.struct_field(pc.extract_regex(data, f'"{name}":(?P<v>-?[0-9]+)'), [0])
    values: list[int] = pc.fill_null(found.cast(pa.int64()), 0).to_pylist()
    return values


def regex_strings(data: pa.Array) -> list[str | None]:
    """`"recipient":"([^"]*)"`, None where none."""
    found: list[str | None] = pc.struct_field(
        pc.extract_regex(data, '"recipient":"(?P<r>[^"]*)"'), [0]
    ).to_pylist()
    return found


def regex_year_map(text: str) -> list[tuple[int, int]] | None:
    """`"amounts_ore":{([^}]*)}` split at commas, each part `"([0-9]+)":(-?[0-9]+)`; None
    where the expressions find no map or a part they cannot read."""
    inner = pc.struct_field(
        pc.extract_regex(pa.array([text]), '"amounts_ore":\\{(?P<m>[^}]*)\\}'), [0]
    )
    if inner[0].as_py() is None:
        return None
    pairs = pc.extract_regex(
        pc.list_flatten(pc.split_pattern(inner, ",")), r'^"(?P<y>[0-9]+)":(?P<a>-?[0-9]+)$'
    )
    if pairs.null_count:
        return None
    years = pc.struct_field(pairs, [0]).cast(pa.int64()).to_pylist()
    amounts = pc.struct_field(pairs, [1]).cast(pa.int64()).to_pylist()
    return list(zip(years, amounts, strict=True))


def all_rows(data: pa.Array) -> Any:
    """Every row's index."""
    return np.arange(len(data), dtype=np.int64)


def native_integers(data: pa.Array, name: str) -> list[int]:
    """integer_members over every row."""
    key = f'"{name}":'.encode()
    values: list[int] = np.frombuffer(
        integer_members(column_buffers(data), all_rows(data), key), np.int64
    ).tolist()
    return values


def native_strings(data: pa.Array) -> list[str | None]:
    """string_members over every row, as text (None where none)."""
    offsets_bytes, strings, found = string_members(
        column_buffers(data), all_rows(data), RECIPIENT_KEY
    )
    offsets = np.frombuffer(offsets_bytes, np.int32)
    return [
        strings[offsets[row] : offsets[row + 1]].decode() if found[row] else None
        for row in range(len(data))
    ]


def native_year_map(data: pa.Array, row: int) -> list[tuple[int, int]]:
    """year_maps of one row."""
    counts, years, amounts = year_maps(column_buffers(data), np.array([row], np.int64), YEARS_KEY)
    assert np.frombuffer(counts, np.int64).tolist() == [len(years) // 8]
    return list(
        zip(
            np.frombuffer(years, np.int64).tolist(),
            np.frombuffer(amounts, np.int64).tolist(),
            strict=True,
        )
    )


def test_the_reference_scenario_reads_as_the_expressions_read_it() -> None:
    data = event_batch(list(synthetic_envelopes(SCENARIO_EVENTS))).column("data")
    for name in INTEGER_KEYS:
        assert native_integers(data, name) == regex_integers(data, name)
    assert native_strings(data) == regex_strings(data)
    texts = data.to_pylist()
    with_maps = [row for row, text in enumerate(texts) if YEARS_KEY.decode() in text]
    assert with_maps
    for row in with_maps:
        assert native_year_map(data, row) == regex_year_map(texts[row])
    rows = np.array(with_maps, np.int64)
    counts, _, _ = year_maps(column_buffers(data), rows, YEARS_KEY)
    assert np.frombuffer(counts, np.int64).tolist() == [
        len(regex_year_map(texts[row]) or []) for row in with_maps
    ]


# Text made of what the scanner looks for and what could fool it.
FRAGMENTS = st.sampled_from(
    [
        '"amount_ore":',
        '"change_ore":',
        '"year":',
        '"recipient":"',
        '"amounts_ore":{',
        '"2019":',
        "-",
        "0",
        "7",
        "12",
        "9223372036854775807",
        "9223372036854775808",
        '"',
        "}",
        "{",
        ",",
        ":",
        "\\",
        "null",
        "å€",
        "x",
    ]
)
FUZZED_TEXT = st.lists(FRAGMENTS, max_size=14).map("".join)


@settings(max_examples=300, deadline=None)
@given(texts=st.lists(FUZZED_TEXT, min_size=1, max_size=8), start=st.integers(0, 2))
def test_fuzzed_text_reads_as_the_expressions_read_it(texts: list[str], start: int) -> None:
    """Integers and strings over every row (a slice of a longer column); each map of years
    the expression reads, and a ValueError where it cannot."""
    data = pa.array(["pad"] * start + texts, pa.string()).slice(start)
    for name in INTEGER_KEYS:
        try:
            expected = regex_integers(data, name)
        except pa.ArrowInvalid:
            with pytest.raises(ValueError, match="does not fit 64 bits"):
                native_integers(data, name)
        else:
            assert native_integers(data, name) == expected
    assert native_strings(data) == regex_strings(data)
    for row, text in enumerate(texts):
        try:
            expected_map = regex_year_map(text)
        except pa.ArrowInvalid:
            expected_map = None
        if expected_map is None:
            with pytest.raises(ValueError, match=f"data of row {row}: "):
                native_year_map(data, row)
        else:
            assert native_year_map(data, row) == expected_map


def test_maps_of_zero_to_many_years_and_negative_amounts() -> None:
    texts = [
        '{"amounts_ore":{}}',
        '{"amounts_ore":{"2019":-5}}',
        '{"amounts_ore":{"2019":5,"2020":-6,"2021":0}}',
        '{"amounts_ore":{"2019":5,}}',
        '{"amounts_ore":{"2019":5,"x":1}}',
        '{"amounts_ore":{"2019":5',
        '{"type":"GrantAwarded"}',
    ]
    data = pa.array(texts)
    assert native_year_map(data, 1) == regex_year_map(texts[1]) == [(2019, -5)]
    assert native_year_map(data, 2) == regex_year_map(texts[2])
    for row in (0, 3, 4, 5, 6):
        assert regex_year_map(texts[row]) is None
        with pytest.raises(ValueError, match=f"data of row {row}: no map of years"):
            native_year_map(data, row)


def test_the_smallest_and_largest_64_bit_integers() -> None:
    data = pa.array(['"amount_ore":-9223372036854775808', '"amount_ore":9223372036854775807'])
    assert native_integers(data, "amount_ore") == regex_integers(data, "amount_ore")


def test_rows_asked_for_come_in_the_order_asked() -> None:
    data = pa.array(['"year":1', '"year":2', "none", '"year":4'])
    rows = np.array([3, 0, 2], np.int64)
    values = integer_members(column_buffers(data), rows, b'"year":')
    assert np.frombuffer(values, np.int64).tolist() == [4, 1, 0]


def forged(offsets: tuple[int, ...], data: bytes) -> tuple[bytes, bytes, int, int]:
    """A column whose buffers claim what they like."""
    return (struct.pack(f"<{len(offsets)}i", *offsets), data, 0, len(offsets) - 1)


@pytest.mark.parametrize(
    ("column", "rows", "reason"),
    [
        (forged((0, 4, 2), b"abcd"), [0], "^data: its offsets decrease at row 1"),
        (forged((0, 2, 9), b"abcd"), [0], "^data: its offsets run past"),
        (forged((0, 2, 4), b"abcd"), [2], "^rows: 2 is not a row of the 2"),
        (forged((0, 2, 4), b"abcd"), [-1], "^rows: -1 is not a row"),
    ],
)
def test_a_forged_column_or_a_row_outside_it_is_a_value_error(
    column: tuple[bytes, bytes, int, int], rows: list[int], reason: str
) -> None:
    for read in (integer_members, string_members, year_maps):
        with pytest.raises(ValueError, match=reason):
            read(column, np.array(rows, np.int64), b'"year":')
