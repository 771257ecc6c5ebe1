"""The offline replay's column source reads an export's batch exactly as the projector's decoder
reads the same envelopes, and rebuilds each event's canonical bytes exactly as schemas/chain.py
defines them, strings that JSON must escape included."""

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.batch_proof import canonical_texts, check_batch
from ledger.audit.event_table import REPEATING_TEXT_COLUMNS, event_batch
from projections.consumer.columnizer import Columnizer
from projections.replay import batch_columns
from projections.replay.columns import Dictionaries, ReplayColumns
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash
from tests.ledgers.envelopes import synthetic_envelopes

EVENTS = 3_000


def rechained(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The envelopes sealed again from genesis (after a test changed some)."""
    prev_hash = GENESIS_HASH
    for envelope in envelopes:
        envelope["prev_hash"] = prev_hash
        envelope["hash"] = prev_hash = chain_hash(prev_hash, canonical_bytes(envelope))
    return envelopes


def named(columns: ReplayColumns, dictionaries: Dictionaries) -> dict[str, list[Any]]:
    """The columns with codes replaced by the names they stand for."""
    programmes, recipients = dictionaries.programmes.values, dictionaries.recipients.values
    agencies = dictionaries.agencies.values
    events, timeline = columns.events.arrays(), columns.timeline.arrays()
    plain = {name: array.tolist() for name, array in events.items()}
    return {
        **plain,
        "programme": [programmes[c] for c in plain["programme"]],
        "recipient": [recipients[c] for c in plain["recipient"]],
        "year": columns.postings.year.tolist(),
        "amount_ore": columns.postings.amount_ore.tolist(),
        "timeline_position": timeline["position"].tolist(),
        "timeline_agency": [agencies[c] for c in timeline["agency"].tolist()],
    }


def decoder_columns(envelopes: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """What the projector's decoder (the rebuild's fast path) makes of the envelopes."""
    dictionaries = Dictionaries()
    columnizer = Columnizer(dictionaries)
    for envelope in envelopes:
        columnizer.add(orjson.dumps(envelope))
    return named(columnizer.build(), dictionaries)


def export_columns(envelopes: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """What the offline replay makes of them, through an export's batch."""
    dictionaries = Dictionaries()
    return named(batch_columns(event_batch(envelopes), dictionaries), dictionaries)


def test_every_kind_reads_as_the_projector_reads_it() -> None:
    """Positions, instants, days, hash prefixes, codes, postings and the agency timeline."""
    envelopes = list(synthetic_envelopes(EVENTS))
    assert len({e["type"] for e in envelopes}) == 11
    assert export_columns(envelopes) == decoder_columns(envelopes)


def test_canonical_bytes_are_the_chains_and_every_link_holds() -> None:
    """The vectorised canonical text of each row is schemas.chain's canonical bytes."""
    envelopes = list(synthetic_envelopes(EVENTS))
    batch = event_batch(envelopes)
    assert canonical_texts(batch) == [canonical_bytes(e) for e in envelopes]
    assert check_batch(batch, {1_000}).failure is None


AWKWARD = st.text(
    alphabet=st.sampled_from(['"', "\\", "\n", "\t", "\x01", "å", "€", "a", ":", "{", "}", ","]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=40, deadline=None)
@given(note=AWKWARD, reference=AWKWARD)
def test_strings_json_must_escape_hash_right_and_cannot_pose_as_amounts(
    note: str, reference: str
) -> None:
    """Quotes, backslashes and control characters in a note or a reference: the chain still
    holds, and text such as `"amount_ore":9` inside a string is not read as money."""
    envelopes = list(synthetic_envelopes(400))
    for envelope in envelopes[200:260]:
        envelope["note"] = note
        envelope["data"]["decision_ref"] = f'{reference} "amount_ore":9,"year":1,"recipient":"x"'
    rechained(envelopes)
    batch = event_batch(envelopes)
    assert check_batch(batch, set()).failure is None
    assert export_columns(envelopes) == decoder_columns(envelopes)


def test_an_altered_row_fails_at_its_position() -> None:
    """One amount changed after sealing: that position, and only it, fails its hash."""
    envelopes = list(synthetic_envelopes(500))
    target = next(e for e in envelopes[300:] if e["type"] == "FundsDisbursed")
    target["data"]["amount_ore"] += 1
    failure = check_batch(event_batch(envelopes), set()).failure
    assert failure is not None and failure[0] == target["position"]
    assert "altered" in failure[1]
    assert np.all(np.diff([e["position"] for e in envelopes]) == 1)


@settings(max_examples=30, deadline=None)
@given(
    micros=st.lists(
        st.integers(min_value=-62_135_596_800_000_000, max_value=253_402_300_799_999_999),
        min_size=1,
        max_size=50,
    )
)
def test_instants_of_any_year_spell_as_the_envelope_does(micros: list[int]) -> None:
    """recorded_at from year 1 to 9999 (leap days and the padding of years before 1000
    included): each rebuilt row is the envelope's canonical bytes and the chain holds."""
    envelopes = list(synthetic_envelopes(300))[: len(micros)]
    for envelope, moment in zip(envelopes, micros, strict=True):
        text = np.datetime_as_string(np.datetime64(moment, "us"), unit="us")
        envelope["recorded_at"] = f"{text}Z"
    rechained(envelopes)
    batch = event_batch(envelopes)
    assert canonical_texts(batch) == [canonical_bytes(e) for e in envelopes]
    assert check_batch(batch, set()).failure is None


def test_a_link_broken_mid_batch_is_named_at_its_position() -> None:
    """A prev_hash replaced by another well-formed hash: that position fails, none before."""
    envelopes = list(synthetic_envelopes(500))
    envelopes[321]["prev_hash"] = envelopes[100]["hash"]
    envelopes[321]["hash"] = chain_hash(
        envelopes[321]["prev_hash"], canonical_bytes(envelopes[321])
    )
    failure = check_batch(event_batch(envelopes), set()).failure
    assert failure == (322, "its prev_hash is not the hash of position 321")


def test_a_hash_that_is_not_hex_fails_no_later_than_its_position() -> None:
    """A hash column holding something other than 64 hex digits never passes."""
    envelopes = list(synthetic_envelopes(300))
    envelopes[200]["hash"] = "z" * 64
    failure = check_batch(event_batch(envelopes), set()).failure
    assert failure is not None and failure[0] <= 201


def test_a_year_of_another_width_is_still_read_as_the_decoder_reads_it() -> None:
    """`year` of any width (a five-digit year, a one-digit one) is read as the decoder
    reads it."""
    envelopes = list(synthetic_envelopes(600))
    one_year = [e for e in envelopes if e["type"] == "FundsDisbursed"]
    one_year[3]["data"]["year"] = 12_345
    one_year[7]["data"]["year"] = 7
    assert export_columns(envelopes) == decoder_columns(envelopes)


def test_a_missing_value_fails_at_its_position() -> None:
    """A column that must hold a value holds none at one row (a forged CSV cell): that
    position fails its hash, with no crash."""
    envelopes = list(synthetic_envelopes(300))
    envelopes[150]["actor"] = None
    failure = check_batch(event_batch(envelopes), set()).failure
    assert failure is not None and failure[0] == envelopes[150]["position"]
    assert "altered" in failure[1]


def test_a_missing_value_and_an_altered_row_fail_at_the_first_of_them() -> None:
    """The row missing a value and an altered row: whichever comes first is named."""
    for missing_at, altered_at in ((150, 200), (200, 150)):
        envelopes = list(synthetic_envelopes(300))
        envelopes[missing_at]["note"] = envelopes[missing_at]["actor"] = None
        envelopes[altered_at]["command_id"] += "x"
        failure = check_batch(event_batch(envelopes), set()).failure
        first = min(missing_at, altered_at)
        assert failure is not None and failure[0] == envelopes[first]["position"]


def test_data_that_parses_alike_but_is_not_the_hashed_text_fails_on_a_row_json_escapes() -> None:
    """A row whose note JSON must escape is hashed by Python's encoder: its `data` is still
    hashed as the export's text, so a member written twice (a forged amount first, the genuine
    one last: parsed, they are the same JSON) fails at its position."""
    envelopes = list(synthetic_envelopes(300))
    target = next(e for e in envelopes[100:] if e["type"] == "FundsDisbursed")
    target["note"] = 'a "quoted" note'
    rechained(envelopes)
    batch = event_batch(envelopes)
    assert check_batch(batch, set()).failure is None
    row = target["position"] - envelopes[0]["position"]
    genuine = batch.column("data")[row].as_py()
    forged = genuine.replace('{"amount_ore":', '{"amount_ore":999999999,"amount_ore":', 1)
    assert forged != genuine and orjson.loads(forged) == orjson.loads(genuine)
    texts = batch.column("data").to_pylist()
    texts[row] = forged
    columns = [
        pa.array(texts, pa.string()) if name == "data" else batch.column(name)
        for name in batch.schema.names
    ]
    failure = check_batch(pa.RecordBatch.from_arrays(columns, schema=batch.schema), set()).failure
    assert failure is not None and failure[0] == target["position"]
    assert "altered" in failure[1]


def as_dictionaries(batch: pa.RecordBatch) -> pa.RecordBatch:
    """The batch with its repeating text columns as dictionary arrays (as the offline replay
    reads Parquet)."""
    columns = [
        pc.dictionary_encode(batch.column(name))
        if name in REPEATING_TEXT_COLUMNS
        else batch.column(name)
        for name in batch.schema.names
    ]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def test_repeating_columns_read_as_dictionaries_prove_and_read_alike() -> None:
    """The same events, their kinds, programmes, actors, agencies and notes as dictionary
    arrays: the same canonical bytes, the same proof, the same columns; an act moved to
    another agency still fails at its position."""
    envelopes = list(synthetic_envelopes(600))
    envelopes[250]["note"] = 'a "quoted" note'
    rechained(envelopes)
    plain = event_batch(envelopes)
    encoded = as_dictionaries(plain)
    assert pa.types.is_dictionary(encoded.column("agency").type)
    assert canonical_texts(encoded) == canonical_texts(plain)
    assert check_batch(encoded, set()).failure is None
    dictionaries = Dictionaries()
    assert named(batch_columns(encoded, dictionaries), dictionaries) == export_columns(envelopes)
    agencies = plain.column("agency").to_pylist()
    agencies[400] = f"not {agencies[400]}"
    columns = [
        pa.array(agencies) if name == "agency" else plain.column(name)
        for name in plain.schema.names
    ]
    altered = as_dictionaries(pa.RecordBatch.from_arrays(columns, schema=plain.schema))
    failure = check_batch(altered, set()).failure
    assert failure is not None and failure[0] == envelopes[400]["position"]
