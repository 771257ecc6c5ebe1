"""Programme snapshots and lost write races (SQLite and PostgreSQL).

Snapshots are an optimisation only: with them, without them, or with damaged ones, every command
has the same outcome and every programme the same state. They never reach the published log. A
writer that loses a race takes its decision back and fast-forwards its cached programme.
"""

import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import Recording
from eventsourcing.utils import get_topic

from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.application.snapshots import ProgrammeSnapshots, snapshot_key
from ledger.domain.errors import LedgerError
from ledger.domain.programme_state import encode_programme
from ledger.domain.recorded import IndexEntry
from schemas import commands as c
from tests.builders import (
    GOTEBORG,
    MALMO,
    PROGRAMME_ID,
    STOCKHOLM,
    amend_appropriation,
    amend_award,
    application,
    award,
    disburse,
    establish,
    extend,
    recover,
    reject,
    set_appropriation,
)
from tests.fill import fill

EVERY = 3  # snapshot interval of these tests: many snapshots, short tails
T0 = datetime(2018, 6, 26, 10, 0, tzinfo=UTC)
SNAPSHOT_LOG = "grant_ledger.snapshots"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Any number of fresh event stores of one kind."""
    if request.param == "sqlite":
        counter = iter(range(1_000))
        return lambda: f"sqlite:///{tmp_path / f'ledger-{next(counter)}.db'}"
    factory: Callable[[], str] = request.getfixturevalue("postgres_schema_factory")
    return factory


def scenario() -> list[c.CommandBase]:
    """Accepted and refused commands of every kind, and a repeat of an earlier command."""
    three = {2018: 300_000, 2019: 300_000, 2020: 300_000}
    repeated = disburse("app-malmo", 2018, 100_000)
    commands: list[c.CommandBase] = [
        establish(),
        *(set_appropriation(year, 1_000_000) for year in (2018, 2019, 2020, 2021)),
        application("app-malmo", three, recipient=MALMO),
        award("app-malmo", three),
        application("app-goteborg", {2018: 800_000}, recipient=GOTEBORG),
        award("app-goteborg", {2018: 800_000}),  # refused: 700 000 left in 2018
        award("app-goteborg", {2018: 700_000}),
        application("app-stockholm", {2019: 5}, recipient=STOCKHOLM),
        reject("app-stockholm"),
        repeated,
        disburse("app-malmo", 2018, 250_000),  # refused: 200 000 left to pay
        repeated,  # the same command again: its earlier outcome
        recover("app-malmo", 2018, 40_000),
        amend_award("app-malmo", 2019, -50_000),
        extend("app-malmo", {2021: 10_000}),
        amend_appropriation(2020, -800_000),  # over-commits 2020
        amend_award("app-malmo", 2020, 1),  # refused: 2020 is over-committed
    ]
    commands += [disburse("app-goteborg", 2018, 1_000 + n) for n in range(8)]
    return commands


def outcome_of(ledger: GrantLedger, command: c.CommandBase, now: datetime) -> dict[str, Any]:
    """What the ledger answered, comparable across stores."""
    try:
        outcome = ledger.execute(command, now=now).as_dict()
    except LedgerError as refusal:
        return {"refused": type(refusal).__name__, **refusal.as_dict()}
    return outcome


def run(
    store_url: str,
    commands: list[c.CommandBase],
    before_each: Callable[[GrantLedger], object] = lambda ledger: None,
) -> list[dict[str, Any]]:
    """The commands, each in a fresh ledger (a cold load every time)."""
    outcomes = []
    for step, command in enumerate(commands):
        ledger = GrantLedger(store_url, snapshot_every_events=EVERY)
        try:
            before_each(ledger)
            outcomes.append(outcome_of(ledger, command, T0 + timedelta(minutes=step)))
        finally:
            ledger.close()
    return outcomes


def stored_facts(ledger: GrantLedger) -> list[dict[str, Any]]:
    """Every programme event in order, without its random event id (and the hashes over it)."""
    return [
        {**envelope, "event_id": None, "prev_hash": None, "hash": None}
        for envelope in store_envelopes(ledger)
    ]


def cold_state(store_url: str, *, without_snapshots: bool = False) -> bytes:
    """The programme as a fresh ledger loads it (from snapshots, or after deleting them)."""
    ledger = GrantLedger(store_url, snapshot_every_events=None)
    try:
        if without_snapshots:
            ledger.programme_snapshots.delete_all()
        return encode_programme(ledger.programme(PROGRAMME_ID))
    finally:
        ledger.close()


def test_deleting_every_snapshot_changes_no_outcome(
    make_store: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    """The scenario gives the same answers, events and state with snapshots as without them."""
    with_snapshots, without = make_store(), make_store()
    caplog.set_level(logging.WARNING, logger=SNAPSHOT_LOG)
    commands = scenario()
    answers = run(with_snapshots, commands)
    answers_without = run(without, commands, lambda ledger: ledger.programme_snapshots.delete_all())
    assert answers == answers_without
    assert [a.get("refused") for a in answers].count("RuleViolation") == 3
    assert sum(bool(a.get("duplicate")) for a in answers) == 1
    loaded = [GrantLedger(url, snapshot_every_events=None) for url in (with_snapshots, without)]
    try:
        assert stored_facts(loaded[0]) == stored_facts(loaded[1])
        snapshot = loaded[0].programme_snapshots.store.latest(
            snapshot_key(PROGRAMME_ID, loaded[0].programme_snapshots.fingerprint)
        )
        assert snapshot is not None and snapshot.version % EVERY == 0
    finally:
        for ledger in loaded:
            ledger.close()
    from_snapshot = cold_state(with_snapshots)
    assert from_snapshot == cold_state(with_snapshots, without_snapshots=True)
    assert from_snapshot == cold_state(without)
    assert not caplog.records, [record.getMessage() for record in caplog.records]


# ------------------------------------------------------------------ damaged snapshots


def _flip_last_byte(blob: bytes) -> bytes:
    return blob[:-1] + bytes([blob[-1] ^ 0x01])


def _header_field(field: str, value: object) -> Callable[[bytes], bytes]:
    def damage(blob: bytes) -> bytes:
        head, _, payload = blob.partition(b"\n")
        return orjson.dumps({**orjson.loads(head), field: value}) + b"\n" + payload

    return damage


DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "flipped bit": (_flip_last_byte, "payload_sha256"),
    "truncated": (lambda blob: blob[: len(blob) // 2], "payload_bytes"),
    "no header": (lambda blob: blob.partition(b"\n")[2], "format is None"),
    "older state shape": (_header_field("fingerprint", "0" * 64), "fingerprint"),
    "older format": (_header_field("format", 0), "format"),
    "another programme": (_header_field("programme_id", "other"), "programme_id"),
    "another version": (_header_field("version", 4), "version"),
    "forged event id": (
        _header_field("last_event_id", "00000000-0000-4000-8000-000000000000"),
        "different event",
    ),
}


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_a_snapshot_that_fails_its_check_is_ignored_with_a_warning(
    make_store: Callable[[], str], caplog: pytest.LogCaptureFixture, damage: str
) -> None:
    """A damaged or foreign snapshot is named in a warning and the programme is replayed."""
    store_url = make_store()
    run(store_url, scenario())
    truth = cold_state(store_url, without_snapshots=True)
    ledger = GrantLedger(store_url, snapshot_every_events=EVERY)
    try:
        snapshots = ledger.programme_snapshots
        ledger.programme(PROGRAMME_ID)  # the replay above snapshots afresh
        key = snapshot_key(PROGRAMME_ID, snapshots.fingerprint)
        stored = snapshots.store.latest(key)
        assert stored is not None
        snapshots.delete_all()
        damage_of, reason = DAMAGE[damage]
        snapshots.store.put(key, stored.version, damage_of(stored.blob))
    finally:
        ledger.close()
    caplog.set_level(logging.WARNING, logger=SNAPSHOT_LOG)
    assert cold_state(store_url) == truth
    warnings = [r.getMessage() for r in caplog.records if r.name == SNAPSHOT_LOG]
    assert len(warnings) == 1, warnings
    assert f"snapshot of programme {PROGRAMME_ID} at v{stored.version} ignored" in warnings[0]
    assert reason in warnings[0]
    # The bad snapshot is gone and the replay left a good one: the next load warns no more.
    caplog.clear()
    rebuilt = GrantLedger(store_url)
    try:
        assert encode_programme(rebuilt.programme(PROGRAMME_ID)) == truth
    finally:
        rebuilt.close()
    assert not [r for r in caplog.records if r.name == SNAPSHOT_LOG]


def test_a_snapshot_from_another_store_is_refused(
    make_store: Callable[[], str], caplog: pytest.LogCaptureFixture
) -> None:
    """Same programme id and version, another history: the event id at that version differs."""
    ours, theirs = make_store(), make_store()
    for url, amount in ((ours, 1_000), (theirs, 2_000)):
        ledger = GrantLedger(url, snapshot_every_events=EVERY)
        try:
            for step, command in enumerate(scenario()[:7]):
                if isinstance(command, c.AwardGrant):
                    command = command.model_copy(  # noqa: PLW2901 (another history)
                        update={"amounts_ore": {"2018": amount}}
                    )
                ledger.execute(command, now=T0 + timedelta(minutes=step))
        finally:
            ledger.close()
    truth = cold_state(ours, without_snapshots=True)
    source, target = (GrantLedger(url) for url in (theirs, ours))
    try:
        key = snapshot_key(PROGRAMME_ID, source.programme_snapshots.fingerprint)
        foreign = source.programme_snapshots.store.latest(key)
        assert foreign is not None and foreign.version == 6
        target.programme_snapshots.delete_all()
        target.programme_snapshots.store.put(key, foreign.version, foreign.blob)
    finally:
        source.close()
        target.close()
    caplog.set_level(logging.WARNING, logger=SNAPSHOT_LOG)
    assert cold_state(ours) == truth
    assert any("holds a different event" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------ taking and pruning


def test_a_snapshot_every_n_events_and_only_the_newest_is_kept(make_store: Callable[[], str]):
    """With N = 5, twelve events leave one snapshot, at v10; other code versions' are pruned."""
    store_url = make_store()
    ledger = GrantLedger(store_url, snapshot_every_events=5)
    try:
        snapshots = ledger.programme_snapshots
        stale = ProgrammeSnapshots(snapshots.store, fingerprint="1" * 64)
        record_events(ledger, 3)
        stale.take(ledger.programme(PROGRAMME_ID), uuid_of(ledger, 3))
        record_events(ledger, 12)
        recorder = snapshots.store.recorder
        current = snapshot_key(PROGRAMME_ID, snapshots.fingerprint)
        assert [row.originator_version for row in recorder.select_events(current)] == [10]
        assert recorder.select_events(snapshot_key(PROGRAMME_ID, stale.fingerprint)) == []
    finally:
        ledger.close()


def record_events(ledger: GrantLedger, count: int) -> None:
    """Run the scenario's commands, skipping refusals, until the programme has `count` events."""
    commands = iter(scenario())
    while ledger.recorder.max_notification_id() is None or (
        ledger.programme(PROGRAMME_ID).version < count
    ):
        outcome_of(ledger, next(commands), T0)


def uuid_of(ledger: GrantLedger, version: int) -> Any:
    """The event id of the programme's event at `version`."""
    return ledger.programme_event(PROGRAMME_ID, version).event_id


def test_a_long_replay_leaves_a_snapshot_for_the_next_cold_start(make_store: Callable[[], str]):
    """A store without snapshots (or after a deploy) is snapshotted by its first cold load."""
    store_url = make_store()
    ledger = GrantLedger(store_url, snapshot_every_events=None)
    try:
        record_events(ledger, 12)
    finally:
        ledger.close()
    ledger = GrantLedger(store_url, snapshot_every_events=5)
    try:
        key = snapshot_key(PROGRAMME_ID, ledger.programme_snapshots.fingerprint)
        assert ledger.programme_snapshots.store.latest(key) is None
        ledger.programme(PROGRAMME_ID)
        stored = ledger.programme_snapshots.store.latest(key)
        assert stored is not None and stored.version == ledger.programme(PROGRAMME_ID).version
    finally:
        ledger.close()


def test_snapshots_stay_out_of_the_notification_log_and_positions(make_store: Callable[[], str]):
    """The log the relay publishes holds programme events and index entries only, positions
    1..n without a gap, however many snapshots were taken."""
    store_url = make_store()
    run(store_url, scenario())
    ledger = GrantLedger(store_url)
    try:
        key = snapshot_key(PROGRAMME_ID, ledger.programme_snapshots.fingerprint)
        assert ledger.programme_snapshots.store.latest(key) is not None
        notifications = ledger.recorder.select_notifications(start=1, limit=10_000)
        topics = {n.topic for n in notifications}
        assert topics == {PROGRAMME_EVENT_TOPIC, get_topic(IndexEntry)}
        programme_events = [n for n in notifications if n.topic == PROGRAMME_EVENT_TOPIC]
        envelopes = list(store_envelopes(ledger))
        assert [e["position"] for e in envelopes] == list(range(1, len(programme_events) + 1))
        assert len(envelopes) == ledger.programme(PROGRAMME_ID).version
    finally:
        ledger.close()


@pytest.mark.kafka
def test_the_relay_publishes_no_snapshot(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """1 200 events with snapshots at 500 and 1 000: exactly 1 200 messages on the topic."""
    from tests.integration.test_relay import (  # noqa: PLC0415
        assert_exactly_once_in_order,
        envelopes_on,
        relay_once,
        settings_for,
    )

    fill(sqlite_store_url, 1_200)
    ledger = GrantLedger(sqlite_store_url)
    try:
        key = snapshot_key("fill", ledger.programme_snapshots.fingerprint)
        stored = ledger.programme_snapshots.store.latest(key)
        assert stored is not None and stored.version == 1_000
    finally:
        ledger.close()
    settings = settings_for(topic_name)
    assert relay_once(sqlite_store_url, settings, kafka_bootstrap).published == 1_200
    assert_exactly_once_in_order(envelopes_on(kafka_bootstrap, topic_name), 1_200)


# ------------------------------------------------------------------ lost write races


class RacedLedger(GrantLedger):
    """A ledger whose next saves are each preceded by a rival's command: it loses those races."""

    name = GrantLedger.name  # eventsourcing names the PostgreSQL tables after the class

    def __init__(self, store_url: str, rival: GrantLedger, rival_commands: list[c.CommandBase]):
        super().__init__(store_url)
        self.rival = rival
        self.rival_commands = rival_commands

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[str]]:
        """Let the rival record first (between this writer's decision and its save)."""
        if self.rival_commands:
            self.rival.execute(self.rival_commands.pop(0))
        return super().save(*objs, **kwargs)


@pytest.fixture
def awarded_store(make_store: Callable[[], str]) -> Iterator[str]:
    """A store with Malmö's three-year grant awarded."""
    store_url = make_store()
    ledger = GrantLedger(store_url)
    try:
        for step, command in enumerate(scenario()[:7]):
            ledger.execute(command, now=T0 + timedelta(minutes=step))
    finally:
        ledger.close()
    yield store_url


def test_a_lost_write_race_fast_forwards_the_cached_programme(awarded_store: str) -> None:
    """The loser takes its decision back, catches up with the winner's events and records on
    top of them: the same cached object, the state a fresh load gives, no reload."""
    rival = GrantLedger(awarded_store)
    rivals = [disburse("app-malmo", 2018, 100_000), disburse("app-malmo", 2018, 100_000)]
    ledger = RacedLedger(awarded_store, rival, rivals)
    try:
        cached = ledger.programme(PROGRAMME_ID)
        outcome = ledger.execute(disburse("app-malmo", 2018, 50_000))
        assert outcome.write_conflicts == 2
        assert outcome.aggregate_version == 10
        assert ledger.programme(PROGRAMME_ID) is cached
        assert cached.grants["app-malmo"].disbursed_ore[2018] == 250_000
        assert encode_programme(cached) == cold_state(awarded_store, without_snapshots=True)
    finally:
        ledger.close()
        rival.close()


def test_a_lost_race_that_leaves_too_little_money_is_refused(awarded_store: str) -> None:
    """After fast-forwarding, the loser decides on the winner's state: the rules still hold."""
    rival = GrantLedger(awarded_store)
    ledger = RacedLedger(awarded_store, rival, [disburse("app-malmo", 2018, 250_000)])
    try:
        ledger.programme(PROGRAMME_ID)
        with pytest.raises(LedgerError, match="only 50000 öre"):
            ledger.execute(disburse("app-malmo", 2018, 100_000))
        assert ledger.programme(PROGRAMME_ID).grants["app-malmo"].disbursed_ore[2018] == 250_000
        assert encode_programme(ledger.programme(PROGRAMME_ID)) == cold_state(
            awarded_store, without_snapshots=True
        )
    finally:
        ledger.close()
        rival.close()


def test_the_same_command_raced_from_two_writers_is_recorded_once(awarded_store: str) -> None:
    """The rival records this very command first: the loser reports it as already recorded."""
    command = disburse("app-malmo", 2018, 70_000)
    rival = GrantLedger(awarded_store)
    ledger = RacedLedger(awarded_store, rival, [command])
    try:
        ledger.programme(PROGRAMME_ID)
        outcome = ledger.execute(command)
        assert (outcome.duplicate, outcome.write_conflicts, outcome.aggregate_version) == (
            True,
            1,
            8,
        )
        assert ledger.programme(PROGRAMME_ID).version == 8
    finally:
        ledger.close()
        rival.close()
