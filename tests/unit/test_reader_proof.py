"""What every reader proves before applying: links in position order, forks and breaks stop it,
only signed positions are released, poison is named, memory stays within the window."""

from typing import Any

import orjson
import pytest

from ledger.proof.chain_reader import (
    GENESIS_POINT,
    Arrival,
    ChainPoint,
    ChainReader,
    Offered,
)
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import ChainBroken, ForgedCheckpoint, ForkDetected, PoisonMessage
from ledger.proof.messages import read_envelope
from schemas.chain import canonical_bytes, chain_hash
from schemas.envelope import MAX_ENVELOPE_BYTES
from tests.ledgers.envelopes import synthetic_envelopes

TOPIC = "events"
CHECKPOINTS = "events.checkpoints"


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, Any]]:
    """The first 60 events of a real chain."""
    return list(synthetic_envelopes(200))[:60]


def arrival(envelope: dict[str, Any], partition: int = 0, offset: int = 0) -> Arrival[int]:
    """The envelope as a message at partition/offset, read as a reader reads it."""
    value = orjson.dumps(envelope)
    at = MessageAt(TOPIC, partition, offset)
    _, link = read_envelope(value, at)
    return Arrival(link, at, value, envelope["position"])


def sign(reader: ChainReader[int], envelope: dict[str, Any], offset: int = 0) -> None:
    """A verified checkpoint at the envelope's position."""
    reader.offer_checkpoint(
        envelope["position"], envelope["hash"], MessageAt(CHECKPOINTS, 0, offset)
    )


def released(reader: ChainReader[int]) -> list[int]:
    """Everything the reader releases now."""
    return [a.payload for a in reader.take_proven(1_000)]


def forged(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The envelope with changed fields and a hash recomputed over them (a careful forgery)."""
    body = {**envelope, **changes}
    body["hash"] = chain_hash(body["prev_hash"], canonical_bytes(body))
    return body


def test_in_order_events_are_released_once_a_signed_checkpoint_covers_them(
    envelopes: list[dict[str, Any]],
) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    for index, envelope in enumerate(envelopes[:10]):
        assert reader.offer(arrival(envelope, offset=index)) is Offered.LINKED
    assert released(reader) == []  # linked, but nothing signed yet
    sign(reader, envelopes[6])
    assert released(reader) == list(range(1, 8))
    sign(reader, envelopes[9])
    assert released(reader) == [8, 9, 10]
    assert reader.released == ChainPoint(10, envelopes[9]["hash"])


def test_arrivals_out_of_order_across_partitions_are_linked_in_position_order(
    envelopes: list[dict[str, Any]],
) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    sign(reader, envelopes[11])  # a checkpoint ahead of the chain waits for it
    evens, odds = envelopes[1:12:2], envelopes[0:12:2]
    for offset, envelope in enumerate(evens):
        assert reader.offer(arrival(envelope, 1, offset)) is Offered.HELD
    assert reader.held == 6 and released(reader) == []
    for offset, envelope in enumerate(odds):
        assert reader.offer(arrival(envelope, 0, offset)) is Offered.LINKED
    assert released(reader) == list(range(1, 13))


def test_the_same_message_twice_is_dropped(envelopes: list[dict[str, Any]]) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    reader.offer(arrival(envelopes[0]))
    reader.offer(arrival(envelopes[2], 1, 0))
    assert reader.offer(arrival(envelopes[0], 2, 7)) is Offered.DUPLICATE
    assert reader.offer(arrival(envelopes[2], 2, 8)) is Offered.DUPLICATE
    sign(reader, envelopes[0])
    assert released(reader) == [1]
    assert reader.offer(arrival(envelopes[0], 3, 9)) is Offered.DUPLICATE  # late, same hash


def test_a_forged_duplicate_of_a_held_position_is_a_fork_naming_both_and_what_differs(
    envelopes: list[dict[str, Any]],
) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    for offset, envelope in enumerate(envelopes[:5]):
        reader.offer(arrival(envelope, 0, offset))
    amount = envelopes[3]["data"].get("amount_ore", 0)
    other = forged(envelopes[3], data={**envelopes[3]["data"], "amount_ore": amount + 10**9})
    with pytest.raises(ForkDetected) as raised:
        reader.offer(arrival(other, 4, 41))
    message = str(raised.value)
    assert "position=4" in message
    assert f"{TOPIC}:0:3" in message and f"{TOPIC}:4:41" in message
    assert "data.amount_ore" in message


def test_a_forged_duplicate_of_an_applied_position_is_a_fork(
    envelopes: list[dict[str, Any]],
) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    for offset, envelope in enumerate(envelopes[:5]):
        reader.offer(arrival(envelope, 0, offset))
    sign(reader, envelopes[4])
    assert released(reader) == [1, 2, 3, 4, 5]
    with pytest.raises(ForkDetected, match="position=2"):
        reader.offer(arrival(forged(envelopes[1], note="forged"), 3, 99))


def test_a_late_duplicate_is_compared_with_the_replay_stores_hash_prefix(
    envelopes: list[dict[str, Any]],
) -> None:
    stored = {e["position"]: e["hash"][:16] for e in envelopes}
    reader: ChainReader[int] = ChainReader(
        ChainPoint(40, envelopes[39]["hash"]), released_hash=stored.get
    )
    assert reader.offer(arrival(envelopes[9])) is Offered.DUPLICATE
    with pytest.raises(ForkDetected, match="position=10"):
        reader.offer(arrival(forged(envelopes[9], note="forged")))


def test_a_message_that_does_not_link_breaks_the_chain_loudly(
    envelopes: list[dict[str, Any]],
) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    reader.offer(arrival(envelopes[0]))
    stray = forged(envelopes[1], prev_hash="ab" * 32)
    with pytest.raises(ChainBroken, match="position=2") as raised:
        reader.offer(arrival(stray, 5, 17))
    assert f"{TOPIC}:5:17" in str(raised.value)


def test_a_forged_next_position_is_never_released(envelopes: list[dict[str, Any]]) -> None:
    """Linked by a forger who read the topic, it waits for a signature that never comes."""
    reader: ChainReader[int] = ChainReader(GENESIS_POINT)
    for envelope in envelopes[:3]:
        reader.offer(arrival(envelope))
    sign(reader, envelopes[2])
    assert released(reader) == [1, 2, 3]
    next_one = forged(envelopes[3], note="money for nothing")
    assert reader.offer(arrival(next_one, 0, 3)) is Offered.LINKED
    assert released(reader) == []
    with pytest.raises(ForgedCheckpoint):  # the ledger's checkpoint disagrees with the forgery
        sign(reader, envelopes[3])
    assert released(reader) == []


def test_a_far_position_is_turned_back_and_the_window_bounds_memory(
    envelopes: list[dict[str, Any]],
) -> None:
    reader: ChainReader[int] = ChainReader(GENESIS_POINT, window=10)
    assert reader.offer(arrival(envelopes[30])) is Offered.BEYOND_WINDOW
    far = forged(envelopes[5], position=10**9)
    assert reader.offer(arrival(far)) is Offered.BEYOND_WINDOW
    for envelope in envelopes[1:10]:
        reader.offer(arrival(envelope))
    assert reader.held == 9
    assert reader.offer(arrival(envelopes[10])) is Offered.BEYOND_WINDOW
    reader.offer(arrival(envelopes[0]))
    sign(reader, envelopes[9])
    assert released(reader) == list(range(1, 11))
    assert reader.offer(arrival(envelopes[10])) is Offered.LINKED  # the window moved on


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (b"\x00\xffnot json", "is not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"type": "FundsDisbursed"}', "no valid position"),
        (b'{"position": 3, "hash": 12, "prev_hash": 7}', "no valid prev_hash"),
        (b"{" + b" " * MAX_ENVELOPE_BYTES + b"}", "over the"),
        (None, "tombstone"),
    ],
)
def test_poison_is_named_with_where_it_is(value: bytes | None, says: str) -> None:
    with pytest.raises(PoisonMessage, match=says) as raised:
        read_envelope(value, MessageAt(TOPIC, 2, 57))
    assert f"{TOPIC}:2:57" in str(raised.value)


def test_an_altered_envelope_does_not_match_its_own_hash(envelopes: list[dict[str, Any]]) -> None:
    altered = {**envelopes[4], "note": "altered after hashing"}
    with pytest.raises(PoisonMessage, match="hashes to"):
        read_envelope(orjson.dumps(altered), MessageAt(TOPIC, 0, 4))


def test_the_relays_spelling_is_hashed_without_re_encoding(envelopes: list[dict[str, Any]]) -> None:
    envelope = envelopes[7]
    body = {k: v for k, v in envelope.items() if k not in ("prev_hash", "hash")}
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    wire = canonical[:-1] + (
        f',"prev_hash":"{envelope["prev_hash"]}","hash":"{envelope["hash"]}"}}'.encode()
    )
    parsed, link = read_envelope(wire, MessageAt(TOPIC, 0, 0))
    assert parsed == envelope and link.hash == envelope["hash"]
