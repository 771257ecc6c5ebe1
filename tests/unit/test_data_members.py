"""Members of the export's `data` read in C (projections/replay/data_members.c), in one walk a
row, mean exactly what the regular expressions the offline replay used before mean, run by Arrow
over the same text: on the reference scenario and on fuzzed text (keys missing, repeated, inside
other text, negative numbers, maps of years of 0..n entries, numbers too large for 64 bits), each
row reading what its code asks. A map of years that the expression could not read, or a number
too large, is a ValueError naming the row, as is a forged column or a code out of range."""

import struct
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.event_table import column_buffers, event_batch
from projections.replay.columns import Dictionaries
from projections.replay.data_members import (
    READ_NOTHING,
    READ_ONE_YEAR,
    READ_YEAR_MAP,
    row_members,
)
from projections.replay.export_columns import MEMBER_KEYS, READS_OF_KIND, batch_columns
from tests.ledgers.envelopes import synthetic_envelopes

AMOUNT_NAMES = ("amount_ore", "change_ore")
KEYS = (
    b'"recipient":',
    b'"amounts_ore":',
    b'"year":',
    tuple(f'"{name}":'.encode() for name in AMOUNT_NAMES),
)
ONE_YEAR_CODES = tuple(READ_ONE_YEAR + j for j in range(len(AMOUNT_NAMES)))
CODES = (READ_NOTHING, READ_YEAR_MAP, *ONE_YEAR_CODES)
SCENARIO_EVENTS = 2_000
TOO_LARGE = "a number does not fit 64 bits"

Postings = list[tuple[int, int]]


def regex_integer(text: str, name: str) -> int:
    """The expression the column source used: `"name":(-?[0-9]+)`, 0 where none."""
    found = pc.struct_field(pc.extract_regex(pa.array([text]), f'"{name}":(?P<v>-?[0-9]+)'), [0])
    value: int = pc.fill_null(found.cast(pa.int64()), 0)[0].as_py()
    return value


def regex_strings(data: pa.Array) -> list[str | None]:
    """`"recipient":"([^"]*)"`, None where none."""
    found: list[str | None] = pc.struct_field(
        pc.extract_regex(data, '"recipient":"(?P<r>[^"]*)"'), [0]
    ).to_pylist()
    return found


def regex_year_map(text: str) -> Postings | None:
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


def regex_postings(text: str, code: int) -> Postings | str:
    """A row's postings by its code as the expressions read them, or why they cannot: the
    start of the error's message."""
    try:
        if code == READ_YEAR_MAP:
            pairs = regex_year_map(text)
            return "" if pairs is None else pairs
        if code == READ_NOTHING:
            return []
        amount = regex_integer(text, AMOUNT_NAMES[code - READ_ONE_YEAR])
        return [(regex_integer(text, "year"), amount)]
    except pa.ArrowInvalid:
        return "" if code == READ_YEAR_MAP else TOO_LARGE


def native(data: pa.Array, reads: list[int]) -> tuple[list[Postings], list[str | None]]:
    """row_members over every row: each row's postings and recipient (None where none)."""
    counts, years, amounts, offsets_bytes, found, strings = row_members(
        column_buffers(data), np.array(reads, np.uint8), *KEYS
    )
    ends = np.cumsum(np.frombuffer(counts, np.int64)).tolist()
    pairs = list(
        zip(
            np.frombuffer(years, np.int64).tolist(),
            np.frombuffer(amounts, np.int64).tolist(),
            strict=True,
        )
    )
    assert len(pairs) == (ends[-1] if ends else 0)
    offsets = np.frombuffer(offsets_bytes, np.int32)
    return (
        [pairs[end - count : end] for end, count in zip(ends, np.diff([0, *ends]), strict=True)],
        [
            strings[offsets[row] : offsets[row + 1]].decode() if found[row] else None
            for row in range(len(data))
        ],
    )


def assert_reads_as_the_expressions(data: pa.Array, reads: list[int]) -> None:
    """The rows' postings and recipients are the expressions', or the first row they cannot
    read is the ValueError."""
    expected = [
        regex_postings(text, code) for text, code in zip(data.to_pylist(), reads, strict=True)
    ]
    faults = [(row, why) for row, why in enumerate(expected) if isinstance(why, str)]
    if faults:
        row, why = faults[0]
        with pytest.raises(ValueError, match=f"^data of row {row}: {why}"):
            native(data, reads)
        return
    assert native(data, reads) == (expected, regex_strings(data))


def scenario_data() -> pa.Array:
    """The reference scenario's `data` column."""
    return event_batch(list(synthetic_envelopes(SCENARIO_EVENTS))).column("data")


def test_the_reference_scenario_reads_as_the_expressions_read_it() -> None:
    """Every row read for each one-year amount, and each row with a map of years for it."""
    data = scenario_data()
    for code in ONE_YEAR_CODES:
        assert_reads_as_the_expressions(data, [code] * len(data))
    texts = data.to_pylist()
    maps = [READ_YEAR_MAP if '"amounts_ore":{' in text else READ_NOTHING for text in texts]
    assert maps.count(READ_YEAR_MAP) > 0
    assert_reads_as_the_expressions(data, maps)


def test_the_column_source_asks_each_kind_for_its_own_members() -> None:
    """The keys and codes batch_columns passes read each row's declared amount: the codes by
    kind mix in one call as the expressions would read each row."""
    assert MEMBER_KEYS == KEYS
    batch = event_batch(list(synthetic_envelopes(SCENARIO_EVENTS)))
    kinds = batch_columns(batch, Dictionaries()).events.kind
    reads = READS_OF_KIND[kinds].tolist()
    assert set(reads) == set(CODES)
    assert_reads_as_the_expressions(batch.column("data"), reads)


# Text made of what the scanner looks for and what could fool it.
FRAGMENTS = st.sampled_from(
    [
        '"amount_ore":',
        '"change_ore":',
        '"year":',
        '"recipient":"',
        '"recipient":',
        '"amounts_ore":{',
        '"2019":',
        "-",
        "0",
        "7",
        "12",
        "9223372036854775807",
        "9223372036854775808",
        "18446744073709551616",
        "0000000000",
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
@given(
    rows=st.lists(st.tuples(FUZZED_TEXT, st.sampled_from(CODES)), min_size=1, max_size=8),
    start=st.integers(0, 2),
)
def test_fuzzed_text_reads_as_the_expressions_read_it(
    rows: list[tuple[str, int]], start: int
) -> None:
    """Each row (of a slice of a longer column) read as its code asks, in one call."""
    data = pa.array(["pad"] * start + [text for text, _ in rows], pa.string()).slice(start)
    assert_reads_as_the_expressions(data, [code for _, code in rows])


def test_maps_of_zero_to_many_years_and_negative_amounts() -> None:
    texts = [
        '{"amounts_ore":{"2019":-5}}',
        '{"amounts_ore":{"2019":5,"2020":-6,"2021":0}}',
        '{"amounts_ore":{}}',
        '{"amounts_ore":{"2019":5,}}',
        '{"amounts_ore":{"2019":5,"x":1}}',
        '{"amounts_ore":{"2019":5',
        '{"type":"GrantAwarded"}',
    ]
    data = pa.array(texts)
    read = native(data.slice(0, 2), [READ_YEAR_MAP] * 2)
    assert read == ([[(2019, -5)], regex_year_map(texts[1])], [None] * 2)
    for row in range(2, len(texts)):
        assert regex_year_map(texts[row]) is None
        reads = [READ_NOTHING] * len(texts)
        reads[row] = READ_YEAR_MAP
        with pytest.raises(ValueError, match=f"^data of row {row}: no map of years"):
            native(data, reads)


def test_the_smallest_and_largest_64_bit_integers() -> None:
    data = pa.array(['"amount_ore":-9223372036854775808,"year":9223372036854775807'])
    assert native(data, [READ_ONE_YEAR]) == ([[(9223372036854775807, -(2**63))]], [None])


@pytest.mark.parametrize(
    "number",
    [
        "-9223372036854775809",
        "9223372036854775808",
        "18446744073709551616",  # 2**64: wraps to 0 in a uint64
        "99999999999999999999",
        "000000000000000000000000009223372036854775807",
        "-00000000000000000000000000000",
    ],
)
def test_numbers_at_and_past_64_bits_as_the_expressions_read_them(number: str) -> None:
    """Too large however it wraps, and leading zeros are no digits of the value."""
    data = pa.array([f'"amount_ore":{number},"year":2019', f'"amounts_ore":{{"2019":{number}}}'])
    assert_reads_as_the_expressions(data.slice(0, 1), [READ_ONE_YEAR])
    assert_reads_as_the_expressions(data.slice(1, 1), [READ_YEAR_MAP])


def test_each_row_reads_what_its_code_asks_with_the_keys_passed_in() -> None:
    """The members' names come from the caller; a row's code picks its amount key."""
    data = pa.array(['"n":1,"a":2,"b":3,"r":"x"', '"n":4,"a":5,"b":6', '"a":7,"n":8'])
    found = row_members(
        column_buffers(data),
        np.array([READ_ONE_YEAR + 1, READ_ONE_YEAR, READ_NOTHING], np.uint8),
        b'"r":',
        b'"m":',
        b'"n":',
        (b'"a":', b'"b":'),
    )
    counts, years, amounts, _, present, strings = found
    assert np.frombuffer(counts, np.int64).tolist() == [1, 1, 0]
    assert np.frombuffer(years, np.int64).tolist() == [1, 4]
    assert np.frombuffer(amounts, np.int64).tolist() == [3, 5]
    assert (list(present), strings) == ([1, 0, 0], b"x")


def forged(offsets: tuple[int, ...], data: bytes) -> tuple[bytes, bytes, int, int]:
    """A column whose buffers claim what they like."""
    return (struct.pack(f"<{len(offsets)}i", *offsets), data, 0, len(offsets) - 1)


@pytest.mark.parametrize(
    ("column", "reads", "reason"),
    [
        (forged((0, 4, 2), b"abcd"), [0, 0], "^data: its offsets decrease at row 1"),
        (forged((0, 2, 9), b"abcd"), [0, 0], "^data: its offsets run past"),
        (forged((0, 2, 4), b"abcd"), [0], "^reads: 1 codes for 2 rows"),
        (forged((0, 2, 4), b"abcd"), [0, READ_ONE_YEAR + 2], "^reads: code 4 of row 1 is not"),
        ((b"", b"", 0, 1), [0], "^data: its offsets buffer holds 0 bytes"),
    ],
)
def test_a_forged_column_or_a_code_outside_the_keys_is_a_value_error(
    column: tuple[bytes, bytes, int, int], reads: list[int], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        row_members(column, np.array(reads, np.uint8), *KEYS)


@pytest.mark.parametrize("key", [b"year", b'"year"', b'year":', b'":', 7])
def test_a_key_that_is_not_a_quoted_name_and_colon_is_a_value_error(key: Any) -> None:
    data = pa.array(['"year":1'])
    with pytest.raises(ValueError, match=r"^keys: each is bytes"):
        row_members(
            column_buffers(data), np.array([READ_ONE_YEAR], np.uint8), *KEYS[:2], key, KEYS[3]
        )
