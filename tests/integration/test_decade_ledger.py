"""The decade ledger: the direct path (the domain's aggregates in memory, used to make ten million
events in minutes) records exactly what the real command path (GrantLedger.execute on an event
store) records for the same commands, and its replay store is what the read side would build."""

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from ledger.application.envelopes import event_state
from ledger.application.grant_ledger import GrantLedger
from ledger.domain.recorded import ProgrammeEvent
from projections.replay import ReplayColumns, ReplayStore
from projections.replay.layout import EventColumns
from tests.ledgers.balances_each_way import columns_of, wire_envelopes
from tests.ledgers.decade.command_path import recorded_events, recorded_through_commands
from tests.ledgers.decade.direct import decade_states
from tests.ledgers.decade.replay_store import build

EVENTS = 1_500

Stored = list[tuple[str, int, dict[str, Any]]]


def without_event_ids(stored: Stored) -> Stored:
    """The command path draws random event ids (uuid4); everything else must be equal."""
    return [
        (aggregate, version, {**state, "event_id": None}) for aggregate, version, state in stored
    ]


@pytest.fixture(scope="module")
def command_path(tmp_path_factory: pytest.TempPathFactory) -> list[ProgrammeEvent]:
    """The first EVENTS commands of the decade through GrantLedger on SQLite: their events."""
    directory = tmp_path_factory.mktemp("decade-commands")
    ledger = GrantLedger(f"sqlite:///{directory / 'ledger.db'}")
    try:
        assert recorded_through_commands(ledger, EVENTS) == EVENTS
        return recorded_events(ledger)
    finally:
        ledger.close()


def test_the_direct_path_records_what_the_command_path_records(
    command_path: list[ProgrammeEvent],
) -> None:
    """Same events, same order, same content (but the command path's random event ids)."""
    direct = [
        (aggregate, version, orjson.loads(state))
        for *_, aggregate, version, state in decade_states(EVENTS)
    ]
    recorded = [(e.originator_id, e.originator_version, event_state(e)) for e in command_path]
    assert len(direct) == len(recorded) == EVENTS
    assert without_event_ids(direct) == without_event_ids(recorded)


def test_worker_processes_do_not_change_the_ledger() -> None:
    """Programmes decided in two processes, merged by recorded time: the same stream."""
    assert list(decade_states(EVENTS, workers=2)) == list(decade_states(EVENTS))


def test_the_replay_store_holds_what_the_read_side_would_build(
    tmp_path: Path, command_path: list[ProgrammeEvent]
) -> None:
    """Its columns equal those the consumer builds from the command path's published envelopes
    (all but the hash prefix, which covers the event ids)."""
    build(tmp_path, EVENTS)
    stored = ReplayStore(tmp_path / "replay").load()
    published, _ = columns_of(wire_envelopes(command_path))
    assert_same_columns(stored, published, ignore=("hash_prefix",))


def assert_same_columns(a: ReplayColumns, b: ReplayColumns, ignore: tuple[str, ...]) -> None:
    """Every column of every table equal, but the ignored event columns."""
    for table_a, table_b in zip(a.tables(), b.tables(), strict=True):
        for name, array in table_a.arrays().items():
            if isinstance(table_a, EventColumns) and name in ignore:
                continue
            assert np.array_equal(array, table_b.arrays()[name]), (table_a.NAME, name)
