"""Random ledgers (commands through the real write side) on Kafka: the live incremental
projection, rebuild from the local store, rebuild --from kafka and the reference agree exactly."""

import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings

from ledger.application.grant_ledger import GrantLedger
from projections.application.rebuild import KafkaSource, rebuild
from projections.consumer.projector import Projector, ProjectorSettings
from projections.domain.reference import reference_balances
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from tests.ledgers.balances_each_way import stored_view_balances, wire_envelopes
from tests.ledgers.kafka_topic import produce_envelopes
from tests.ledgers.random_commands import random_actions, recorded_events, run_actions
from tests.signing import ledger_trust

EXAMPLES = 5
CHECKPOINT_EVERY = 5
IDLE_MS = 800


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(actions=random_actions())
def test_live_and_rebuilt_projections_agree_with_the_reference(
    kafka_bootstrap: str, actions: list[dict[str, Any]]
) -> None:
    """Four answers, one truth."""
    today = datetime.now(tz=UTC).date()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        ledger = GrantLedger(f"sqlite:///{directory / 'ledger.db'}")
        try:
            run_actions(ledger, actions)
            events = recorded_events(ledger)
        finally:
            ledger.close()
        expected = reference_balances(events, today=today)
        topic = f"gl-random-{uuid.uuid4().hex[:12]}"
        kafka = KafkaSource(kafka_bootstrap, topic, f"{topic}.checkpoints", ledger_trust())
        produce_envelopes(
            kafka_bootstrap,
            topic,
            wire_envelopes(events),
            checkpoint_topic=kafka.checkpoint_topic,
            checkpoint_every=CHECKPOINT_EVERY,
        )
        replay = ReplayStore(directory / "replay", durable=False)
        with ReadStore.open(f"sqlite:///{directory / 'read.db'}") as read_store:
            # One projector without a consumer group (no join to wait for), small batches.
            projector_settings = ProjectorSettings(
                kafka_bootstrap,
                topic,
                kafka.checkpoint_topic,
                ledger_trust(),
                group_id=None,
                max_batch_events=7,
            )
            with replay.writing(), Projector(read_store, replay, projector_settings) as projector:
                projector.run(once=True)
            assert stored_view_balances(read_store) == expected

            assert rebuild(read_store, replay, source="local", kafka=kafka).checkpoints_checked > 0
            assert stored_view_balances(read_store) == expected

            rebuild(read_store, replay, source="kafka", kafka=kafka, workers=2)
            assert stored_view_balances(read_store) == expected
