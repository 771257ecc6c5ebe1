"""The SFS 2018:151 scenario through the real relay: the live projection, both rebuilds and the
as-of engine agree exactly with the reference fold, on SQLite and on PostgreSQL read stores."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from commands.cli.main import main
from ledger.application.grant_ledger import GrantLedger
from ledger.config import KafkaSettings
from ledger.domain.recorded import ProgrammeEvent
from ledger.relay.relay import Relay
from projections.application.query import replay_balances
from projections.application.rebuild import KafkaSource, rebuild
from projections.consumer.projector import Projector, ProjectorSettings
from projections.domain.asof import AsOf
from projections.domain.reference import reference_balances
from projections.domain.rows import (
    STORED_VIEWS,
    AgencyYearRow,
    ProgrammeYearRow,
    RecipientYearRow,
    View,
)
from projections.domain.selection import Selection
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from tests.ledgers.balances_each_way import stored_view_balances
from tests.signing import ledger_signer, ledger_trust

SCENARIO = Path(__file__).resolve().parents[2] / "commands" / "scenarios" / "sfs_2018_151.jsonl"
# Small group timeouts: the dev broker holds a join for the rebalance timeout.
FAST_GROUP = {
    "session_timeout_ms": 3_000,
    "heartbeat_interval_ms": 500,
    "max_poll_interval_ms": 3_000,
}


@dataclass(frozen=True)
class Published:
    """The scenario recorded and relayed to a topic."""

    events: list[ProgrammeEvent]
    bootstrap: str
    settings: KafkaSettings


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> Published:
    """Record the scenario, relay it once."""
    store_url = f"sqlite:///{tmp_path_factory.mktemp('scenario') / 'ledger.db'}"
    assert main(["submit", str(SCENARIO), "--store", store_url, "--format", "json"]) == 0
    topic = f"gl-projection-{datetime.now(tz=UTC).strftime('%H%M%S%f')}"
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic=topic,
        checkpoint_topic=f"{topic}.checkpoints",
        checkpoint_every=100,
        partitions=6,
    )
    ledger = GrantLedger(store_url)
    try:
        Relay(ledger, settings, kafka_bootstrap, ledger_signer()).run(once=True)
        events = [event for _, event in ledger.programme_events()]
    finally:
        ledger.close()
    return Published(events, kafka_bootstrap, settings)


def kafka_source(published: Published) -> KafkaSource:
    """Where rebuilds read from."""
    s = published.settings
    return KafkaSource(published.bootstrap, s.topic, s.checkpoint_topic, ledger_trust())


def test_live_projection_and_rebuilds_agree_with_the_reference(
    published: Published, read_store_url: str, tmp_path: Path
) -> None:
    """Live (consumer group), rebuild from the local store, rebuild from Kafka: all the same."""
    today = datetime.now(tz=UTC).date()
    expected = reference_balances(published.events, today=today)
    replay = ReplayStore(tmp_path / "replay", durable=False)
    settings = ProjectorSettings(
        published.bootstrap,
        published.settings.topic,
        published.settings.checkpoint_topic,
        ledger_trust(),
        group_id=f"g-{tmp_path.name}",
        **FAST_GROUP,
    )
    with ReadStore.open(read_store_url) as read_store:
        with replay.writing(), Projector(read_store, replay, settings) as projector:
            stats = projector.run(once=True)
        assert stats.applied == len(published.events)
        assert stored_view_balances(read_store) == expected

        report = rebuild(read_store, replay, source="local", kafka=kafka_source(published))
        assert report.source == "the local replay store" and report.checkpoints_checked >= 3
        assert stored_view_balances(read_store) == expected

        report = rebuild(read_store, replay, source="kafka", kafka=kafka_source(published))
        assert report.source.startswith("topic")
        assert stored_view_balances(read_store) == expected
        assert read_store.state()["complete_through_position"] == str(len(published.events))


@pytest.mark.parametrize(
    "as_of",
    [
        AsOf(as_of_date=date(2018, 12, 31)),
        AsOf(as_of_date=date(2021, 6, 30)),
        AsOf(at_position=100),
        AsOf(at_position=300, as_of_date=date(2020, 12, 31)),
    ],
)
def test_as_of_questions_on_the_replay_store(
    published: Published, tmp_path: Path, as_of: AsOf
) -> None:
    """Every view as of a date/position, from the replay store, equals the reference."""
    today = datetime.now(tz=UTC).date()
    replay = ReplayStore(tmp_path / "replay", durable=False)
    with ReadStore.open(f"sqlite:///{tmp_path / 'read.db'}") as read_store:
        rebuild(read_store, replay, source="kafka", kafka=kafka_source(published))
    expected = reference_balances(published.events, as_of, today=today)
    for view in STORED_VIEWS:
        assert tuple(
            replay_balances(replay, view, Selection(), as_of, today=today)
        ) == expected.view(view)


def test_the_cli_projects_and_answers(
    published: Published, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`project --once`, `rebuild` and `balances --as-of-date` through the console script."""
    read_store = f"sqlite:///{tmp_path / 'read.db'}"
    common = ["--read-store", read_store, "--replay-dir", str(tmp_path / "replay")]
    kafka = ["--bootstrap-servers", published.bootstrap, "--topic", published.settings.topic]
    checkpoints = ["--checkpoint-topic", published.settings.checkpoint_topic]
    assert (
        main(
            [
                "project",
                "--once",
                *common,
                *kafka,
                *checkpoints,
            ]
        )
        == 0
    )
    assert main(["rebuild", *common, *kafka, *checkpoints]) == 0
    err = capsys.readouterr().err
    assert f"rebuilt {len(published.events)} events from the local replay store" in err
    assert (
        main(
            [
                "balances",
                "--by",
                "agency-year",
                "--as-of-date",
                "2020-12-31",
                "--format",
                "json",
                *common,
            ]
        )
        == 0
    )
    expected = reference_balances(
        published.events, AsOf(as_of_date=date(2020, 12, 31)), today=date.today()
    )
    assert '"agency": "tillvaxtverket"' in capsys.readouterr().out
    assert {row.agency for row in expected.agency_years} == {"tillvaxtverket"}


MKR_ORE = 100_000_000  # one million kronor in öre


def test_the_projected_scenario_matches_the_hand_checked_totals(
    published: Published, tmp_path: Path
) -> None:
    """The numbers a person checks against DOMAIN.md, read from the projected views."""
    replay = ReplayStore(tmp_path / "replay", durable=False)
    with ReadStore.open(f"sqlite:///{tmp_path / 'read.db'}") as read_store:
        rebuild(read_store, replay, source="kafka", kafka=kafka_source(published))
        programme = {
            row.year: row
            for row in read_store.balances(View.PROGRAMME_YEAR)
            if isinstance(row, ProgrammeYearRow)
        }
        agencies = {
            (row.agency, row.year): row
            for row in read_store.balances(View.AGENCY_YEAR)
            if isinstance(row, AgencyYearRow)
        }
        recipients = [
            row
            for row in read_store.balances(View.RECIPIENT_YEAR)
            if isinstance(row, RecipientYearRow)
        ]
    # 2018: the 425 M appropriation fully awarded and paid, by Tillväxtverket.
    assert programme[2018].appropriated_ore == programme[2018].awarded_ore == 425 * MKR_ORE
    assert programme[2018].disbursed_ore == 425 * MKR_ORE
    # 2019 after the cut and the amending budget: 410 M, fully used; Filipstad's återkrav.
    assert programme[2019].appropriated_ore == programme[2019].awarded_ore == 410 * MKR_ORE
    assert programme[2019].recovered_ore == 250_000 * 100
    # 2020: 415 M; 2021: 160 M decided by Delmos.
    assert programme[2020].awarded_ore == 415 * MKR_ORE
    assert programme[2021].awarded_ore == 160 * MKR_ORE
    assert programme[2021].agency == "delmos"
    assert all(row.available_ore == 0 for row in programme.values())
    # The handover shows in the agency split.
    assert agencies[("tillvaxtverket", 2020)].disbursed_ore == 415 * MKR_ORE
    assert agencies[("delmos", 2021)].disbursed_ore == 160 * MKR_ORE
    assert ("delmos", 2019) not in agencies
    # All 32 eligible municipalities had money in 2018; Malmö exactly its 22 M.
    in_2018 = {row.recipient: row for row in recipients if row.year == 2018}
    assert len(in_2018) == 32
    assert in_2018["1280"].awarded_ore == 22 * MKR_ORE

    # As of 2019-12-31 the 2020 cut had left the year over-committed (reductions came in 2020).
    as_of = AsOf(as_of_date=date(2019, 12, 31))
    year_end = {
        row.year: row
        for row in replay_balances(replay, View.PROGRAMME_YEAR, Selection(), as_of)
        if isinstance(row, ProgrammeYearRow)
    }
    assert year_end[2020].appropriated_ore == 415 * MKR_ORE
    assert year_end[2020].available_ore == -1_785 * MKR_ORE
