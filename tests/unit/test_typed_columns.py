"""A Parquet export's typed columns (recipient, postings, where in `data` they stand): read as
the projector's decoder reads the same envelopes, and trusted only when every value is what
the hashed `data` says; one typed value changed with `data` intact fails at its position."""

from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.batch_proof import check_batch
from ledger.audit.typed_columns import TYPED_EVENT_SCHEMA, first_typed_mismatch, typed_event_batch
from projections.replay import batch_columns
from projections.replay.columns import Dictionaries
from tests.ledgers.envelopes import synthetic_envelopes
from tests.unit.test_export_columns import decoder_columns, named, rechained

EVENTS = 3_000
Row = dict[str, Any]


def typed_columns(envelopes: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """What the offline replay makes of the envelopes through a Parquet export's batch."""
    dictionaries = Dictionaries()
    return named(batch_columns(typed_event_batch(envelopes), dictionaries), dictionaries)


def test_every_kind_reads_as_the_projector_reads_it() -> None:
    """Codes, postings and the agency timeline from the typed columns, no `data` parsed."""
    envelopes = list(synthetic_envelopes(EVENTS))
    assert len({e["type"] for e in envelopes}) == 11
    batch = typed_event_batch(envelopes)
    assert batch.schema.equals(TYPED_EVENT_SCHEMA)
    assert first_typed_mismatch(batch) == batch.num_rows
    assert check_batch(batch, set()).failure is None
    assert typed_columns(envelopes) == decoder_columns(envelopes)


AWKWARD = st.text(
    alphabet=st.sampled_from(['"', "\\", "\n", "å", "€", "a", ":", "{", "}", ","]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=30, deadline=None)
@given(reference=AWKWARD)
def test_member_text_inside_a_string_is_not_the_member(reference: str) -> None:
    """A reference holding `"amount_ore":9,"year":1,"recipient":"x"` (escaped in `data`): the
    typed columns still prove, and an offset moved onto that text does not."""
    envelopes = list(synthetic_envelopes(400))
    for envelope in envelopes[200:260]:
        envelope["data"]["decision_ref"] = f'{reference} "amount_ore":9,"year":1,"recipient":"x"'
    rechained(envelopes)
    batch = typed_event_batch(envelopes)
    assert check_batch(batch, set()).failure is None
    assert typed_columns(envelopes) == decoder_columns(envelopes)
    rows = batch.to_pylist()
    row = next(i for i in range(200, 260) if rows[i]["amount_at"] is not None)
    rows[row]["amount_at"] = rows[row]["data"].index('"amount_ore', rows[row]["amount_at"] + 1)
    assert first_typed_mismatch(pa.RecordBatch.from_pylist(rows, TYPED_EVENT_SCHEMA)) == row


def first_of(rows: list[Row], event_type: str) -> int:
    """The first row of a type after row 100."""
    return next(i for i, row in enumerate(rows) if i > 100 and row["type"] == event_type)


def amount_raised(rows: list[Row]) -> int:
    """A disbursement's typed amount one krona more; its data says otherwise."""
    row = first_of(rows, "FundsDisbursed")
    rows[row]["postings"][0]["amount_ore"] += 100
    return row


def year_moved(rows: list[Row]) -> int:
    """A recovery's typed year one later."""
    row = first_of(rows, "FundsRecovered")
    rows[row]["postings"][0]["year"] += 1
    return row


def recipient_swapped(rows: list[Row]) -> int:
    """An award credited to another municipality."""
    row = first_of(rows, "GrantAwarded")
    other = next(
        r["recipient"] for r in rows if r["recipient"] not in (None, rows[row]["recipient"])
    )
    rows[row]["recipient"] = other
    return row


def recipient_dropped(rows: list[Row]) -> int:
    """A disbursement with no recipient (and no offset): its data has one."""
    row = first_of(rows, "FundsDisbursed")
    rows[row]["recipient"] = rows[row]["recipient_at"] = None
    return row


def year_of_a_map_dropped(rows: list[Row]) -> int:
    """An award's last year gone from its postings."""
    row = next(
        i for i, r in enumerate(rows) if r["type"] == "GrantAwarded" and len(r["postings"]) > 1
    )
    rows[row]["postings"].pop()
    return row


def money_added(rows: list[Row]) -> int:
    """A rejection (no money) given a posting."""
    row = first_of(rows, "ApplicationRejected")
    rows[row]["postings"] = [{"year": 2020, "amount_ore": 1}]
    return row


def offset_shifted(rows: list[Row]) -> int:
    """The year's offset one byte on."""
    row = first_of(rows, "FundsDisbursed")
    rows[row]["year_at"] += 1
    return row


def money_dropped(rows: list[Row]) -> int:
    """A disbursement's posting and its offsets removed."""
    row = first_of(rows, "FundsDisbursed")
    rows[row]["postings"] = []
    rows[row]["amount_at"] = rows[row]["year_at"] = None
    return row


TAMPERINGS: dict[str, Callable[[list[Row]], int]] = {
    "a typed amount raised": amount_raised,
    "a typed year moved": year_moved,
    "a recipient swapped": recipient_swapped,
    "a recipient dropped": recipient_dropped,
    "a year of a map dropped": year_of_a_map_dropped,
    "money added to a kind without": money_added,
    "an offset shifted": offset_shifted,
    "money dropped": money_dropped,
}


@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_a_typed_value_that_is_not_its_data_fails_at_its_position(tampering: str) -> None:
    """`data`, the hashes and the links intact: the batch fails at that row, none before."""
    envelopes = list(synthetic_envelopes(1_500))
    rows = typed_event_batch(envelopes).to_pylist()
    row = TAMPERINGS[tampering](rows)
    failure = check_batch(pa.RecordBatch.from_pylist(rows, TYPED_EVENT_SCHEMA), set()).failure
    assert failure is not None, tampering
    assert failure[0] == envelopes[row]["position"], failure
    assert "typed columns" in failure[1]


def test_rows_of_an_older_schema_version_are_proven_one_by_one() -> None:
    """Events recorded under an older schema version carry the upcast values and no offsets;
    each is held to what the export writes for its data."""
    envelopes = list(synthetic_envelopes(600))
    older = [e for e in envelopes if e["type"] in ("FundsDisbursed", "GrantAwarded")][:20]
    for envelope in older:
        envelope["schema_version"] = 0
    rechained(envelopes)
    batch = typed_event_batch(envelopes)
    assert all(r["amount_at"] is None for r in batch.to_pylist() if r["schema_version"] == 0)
    assert check_batch(batch, set()).failure is None
    assert typed_columns(envelopes) == decoder_columns(envelopes)
    rows = batch.to_pylist()
    row = next(i for i, r in enumerate(rows) if r["schema_version"] == 0 and i > 0)
    rows[row]["postings"][0]["amount_ore"] += 1
    failure = check_batch(pa.RecordBatch.from_pylist(rows, TYPED_EVENT_SCHEMA), set()).failure
    assert failure is not None and failure[0] == envelopes[row]["position"]
