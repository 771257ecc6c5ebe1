"""Where a restarted relay continues: from exactly what the topic holds after the checkpoint."""

import subprocess
import sys

import pytest

from commands.cli.main import EXIT_OK, EXIT_UNAVAILABLE
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.relay.resume import (
    GENESIS_MARK,
    ChainMark,
    TopicDivergedError,
    TopicState,
    find_resume_point,
)
from tests.fill import fill
from tests.relay_runs import (
    assert_exactly_once_in_order,
    envelopes_on,
    settings_for,
)

EVENTS = 12


@pytest.fixture
def ledger(sqlite_store_url: str) -> GrantLedger:
    """A store of EVENTS events."""
    fill(sqlite_store_url, EVENTS)
    return GrantLedger(sqlite_store_url)


def hashes(ledger: GrantLedger) -> dict[int, str]:
    """The store's chain: position -> hash."""
    return {e["position"]: e["hash"] for e in store_envelopes(ledger)}


def test_a_gap_inside_a_partition_is_filled_and_what_follows_is_skipped(
    ledger: GrantLedger,
) -> None:
    """4 and 7 lost in flight (a later batch landed): resume at 4, skip the rest present."""
    chain = hashes(ledger)
    on_topic = {p: h for p, h in chain.items() if p not in (4, 7)}
    resume = find_resume_point(ledger, TopicState(on_topic, EVENTS), GENESIS_MARK)
    assert resume.next_position == 4
    assert resume.prev_hash == chain[3]
    assert resume.published_ahead == frozenset({5, 6, 8, 9, 10, 11, 12})


def test_after_a_checkpoint_only_what_follows_it_is_compared(ledger: GrantLedger) -> None:
    """With a checkpoint at 8, positions 9..12 decide; all present means resume at 13."""
    chain = hashes(ledger)
    anchor_id = ledger.stored_programme_events(0, 8)[-1].notification_id
    anchor = ChainMark(8, chain[8], anchor_id)
    after = {p: chain[p] for p in range(9, EVENTS + 1)}
    resume = find_resume_point(ledger, TopicState(after, EVENTS), anchor)
    assert (resume.next_position, resume.prev_hash) == (EVENTS + 1, chain[EVENTS])
    assert resume.last_checkpoint_position == 8


def test_a_topic_that_differs_from_the_store_is_refused(ledger: GrantLedger) -> None:
    """A hash on the topic that the store does not produce stops the relay, naming the position."""
    chain = hashes(ledger)
    chain[6] = "f" * 64
    with pytest.raises(TopicDivergedError) as refusal:
        find_resume_point(ledger, TopicState(chain, EVENTS), GENESIS_MARK)
    assert refusal.value.value == 6


def test_a_topic_ahead_of_the_store_is_refused(ledger: GrantLedger) -> None:
    """The topic holding more positions than the store has events is refused."""
    with pytest.raises(TopicDivergedError):
        find_resume_point(ledger, TopicState(hashes(ledger), EVENTS + 5), GENESIS_MARK)


@pytest.mark.kafka
def test_two_relays_started_together_publish_each_event_once(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """A second relay on the same store and topic refuses (--once) instead of doubling events."""
    fill(sqlite_store_url, 2_000)
    settings = settings_for(topic_name)
    command = [
        sys.executable,
        "-m",
        "commands.cli.main",
        "relay",
        "--once",
        "--store",
        sqlite_store_url,
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topic_name,
        "--checkpoint-topic",
        settings.checkpoint_topic,
    ]
    relays = [subprocess.Popen(command, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [
        (relay.wait(timeout=120), relay.stderr.read() if relay.stderr else "") for relay in relays
    ]
    assert {code for code, _ in outcomes} <= {EXIT_OK, EXIT_UNAVAILABLE}, outcomes
    assert EXIT_OK in {code for code, _ in outcomes}
    for code, stderr in outcomes:
        if code == EXIT_UNAVAILABLE:
            assert "another relay is publishing" in stderr
    assert_exactly_once_in_order(envelopes_on(kafka_bootstrap, topic_name), 2_000)
