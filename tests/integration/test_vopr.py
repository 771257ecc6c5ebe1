"""VOPR-lite: hypothesis drives the whole pipeline through random interleavings of commands, a
relay following the store in a process of its own (started, stopped, killed with -9), projector
runs (and a projector killed with -9 mid-run), broker restarts (Tansu comes back empty; Apache
Kafka, killed with -9, on the same data dir), and forged and poison messages on the topic,
skipped once a reader has stopped on them.

The invariant, checked after every step: the read store never holds a balance that a fresh
rebuild from the event store would not give. It may lag (it holds positions 1..k for some k up
to what the store has, and exactly the balances of those k events), a reader may stop loudly on
what the test forged, but nothing is ever wrong.

Examples: GRANT_LEDGER_VOPR_EXAMPLES on Tansu (default 200; `make soak` runs 5 000), a twentieth of
that on Apache Kafka (whose restarts start a JVM), where its jars are (always in CI).
"""

from __future__ import annotations

import contextlib
import faulthandler
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from kafka import KafkaProducer

from commands.cli.main import EXIT_UNAVAILABLE
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.infrastructure.kafka.apache_kafka import ApacheKafka
from ledger.infrastructure.kafka.broker_process import BrokerProcess
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.operations.stop_signals import STOP_SIGNALS, stop_on_signals
from ledger.proof.coordinates import MessageAt
from ledger.proof.skips import SkipRequest
from ledger.relay.relay import RELAY_STOP_DEADLINE_S, Relay
from projections.consumer.projector import Projector, ProjectorSettings
from projections.replay.store import ReplayStore
from projections.store.read_store import ReadStore
from schemas.chain import canonical_bytes, chain_hash
from schemas.errors import IntegrityFailure, LedgerError
from tests.conftest import kafka_jars_or_skip
from tests.fill import disbursements, setup_commands
from tests.ledgers.balances_each_way import stored_view_balances
from tests.reference_balances import reference_balances
from tests.relay_runs import settings_for
from tests.settings import DEFAULT_VOPR_EXAMPLES, ENGINE_KAFKA, ENGINE_TANSU, SUITE_SETTINGS
from tests.signing import ledger_signer, ledger_trust

EXAMPLES = SUITE_SETTINGS.vopr_examples
# A restart of Apache Kafka (kill -9, start on the data dir) costs a JVM start: fewer examples.
KAFKA_SHARE = 20
STEPS = 8
CHECKPOINT_EVERY = 7
PARTITIONS = 3
KILL_AFTER_MAX_S = 1.5
PROCESS_TIMEOUT_S = 120
STALL_TIMEOUT_S = 2.0
FORGE_METADATA_WAIT_MS = 5_000
REASON = "forged by the VOPR"
FORK = multiprocessing.get_context("fork")
assert PROCESS_TIMEOUT_S > RELAY_STOP_DEADLINE_S, "a relay gets its whole stop deadline"


class Broker:
    """The run's broker and how this engine restarts: Tansu empty, Kafka on its data dir."""

    def __init__(self, process: BrokerProcess) -> None:
        self.process = process

    @property
    def bootstrap(self) -> str:
        return self.process.bootstrap_servers

    def restart(self) -> bool:
        """Restart; True when the broker came back empty."""
        if isinstance(self.process, ApacheKafka):
            self.process.kill()
            self.process.start()
            return False
        self.process.restart()
        return True


@pytest.fixture(scope="module", params=[ENGINE_TANSU, ENGINE_KAFKA])
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Broker]:
    """A broker of this module's own (it is restarted): Tansu; Apache Kafka where its jars are."""
    process: BrokerProcess
    if request.param == ENGINE_KAFKA:
        process = ApacheKafka(tmp_path_factory.mktemp("vopr") / "kafka", kafka_jars_or_skip())
    else:
        process = DevBroker()
    process.start()
    try:
        yield Broker(process)
    finally:
        process.stop()


class Pipeline(RuleBasedStateMachine):
    """One ledger, its topic, one read store; the model: what the store holds, what was forged."""

    broker: Broker

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="vopr-"))
        self.store_url = f"sqlite:///{self.directory / 'ledger.db'}"
        self.read_store_url = f"sqlite:///{self.directory / 'read.db'}"
        self.topic = f"vopr-{uuid.uuid4().hex[:10]}"
        self.settings = settings_for(
            self.topic, checkpoint_every=CHECKPOINT_EVERY, partitions=PARTITIONS
        )
        self.ledger = GrantLedger(self.store_url)
        for command in setup_commands():
            self.ledger.execute(command)
        self.recorded = len(setup_commands())
        self.payments = 0
        self.forged: set[MessageAt] = set()
        self.skip_next: set[MessageAt] = set()
        self.relay: Any = None

    def teardown(self) -> None:
        self.stop_relay(kill=True)
        self.ledger.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # ----------------------------------------------------------------- steps

    @rule(count=st.integers(1, 12))
    def record(self, count: int) -> None:
        """Officers record payments."""
        for command in disbursements(self.payments, count):
            self.ledger.execute(command)
        self.payments += count
        self.recorded += count

    @rule()
    def start_relay(self) -> None:
        """A relay follows the store in a process of its own (told to skip what was forged)."""
        if self.relay is None or not self.relay.is_alive():
            self.relay = FORK.Process(target=self._follow_relay, daemon=True)
            # SIGTERM held until the child has its own handler: a stop_relay right after this
            # step must reach the relay, not whatever handler the child inherited.
            signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
            try:
                self.relay.start()
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    @rule(kill=st.booleans())
    def stop_relay(self, kill: bool) -> None:
        """SIGTERM (it finishes its window) or SIGKILL (kill -9, mid-whatever) to the relay."""
        relay, self.relay = self.relay, None
        if relay is None or relay.pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(relay.pid, signal.SIGKILL if kill else signal.SIGTERM)
        relay.join(PROCESS_TIMEOUT_S)
        hung = relay.is_alive()
        if hung:
            # Where it hangs, for whoever reads the failure: every thread's stack to stderr.
            os.kill(relay.pid, signal.SIGUSR1)
            time.sleep(1)
            os.kill(relay.pid, signal.SIGKILL)
            relay.join(PROCESS_TIMEOUT_S)
        assert not hung, f"the relay did not exit within {PROCESS_TIMEOUT_S} s (stacks: stderr)"
        if not kill:
            assert relay.exitcode == 0, f"the relay ended its stop with {relay.exitcode} (stderr)"

    @rule()
    def project_once(self) -> None:
        """The projector reads the topic to its end; on a forgery it stops, then it is skipped.

        One forgery at a time: with two on the topic, the read that skips the first stops on the
        second. Each stop must name a forgery not skipped yet, so this ends.
        """
        for _ in range(len(self.forged) + 1):
            try:
                self._project()
                return
            except IntegrityFailure as stopped:
                named = {at for at in self.forged if str(at) in str(stopped)} - self.skip_next
                assert named, f"stopped on something the test did not forge (or skip): {stopped}"
                self.skip_next.update(named)
        raise AssertionError(f"still stopping with every forgery skipped: {self.skip_next}")

    def _project(self) -> None:
        settings = ProjectorSettings(
            self.broker.bootstrap,
            self.topic,
            self.settings.checkpoint_topic,
            ledger_trust(),
            group_id=None,
            max_batch_events=5,
            skips=tuple(SkipRequest(at, REASON) for at in self.skip_next),
            skipped_by="vopr",
            stall_timeout_s=STALL_TIMEOUT_S,
        )
        replay = ReplayStore(self.directory / "replay", durable=False)
        with ReadStore.open(self.read_store_url) as read_store, replay.writing():
            try:
                with Projector(read_store, replay, settings) as projector:
                    projector.run(once=True)
            except LedgerError as error:
                if "does not exist" in error.message:
                    return  # nothing published yet
                raise

    @rule(data=st.data())
    def fault(self, data: st.DataObject) -> None:
        """One fault: a broker restart, a process killed with -9, a forged or poison message."""
        kind = data.draw(
            st.sampled_from(["restart", "kill projector", "next", "far", "duplicate", "poison"])
        )
        if kind == "restart":
            if self.broker.restart():
                self.forged.clear()  # they vanished with the topic
        elif kind == "kill projector":
            self._kill_projector(data.draw(st.floats(0, KILL_AFTER_MAX_S)))
        else:
            self._forge(kind, data.draw(st.integers(0, PARTITIONS - 1)), data)

    def _kill_projector(self, after_s: float) -> None:
        """The projector in a forked process, killed with SIGKILL mid-run.

        Forked, not spawned: the code `grant-ledger project` runs, without a second
        interpreter's start-up, and killed just the same (nothing flushed, nothing closed).
        """
        child = FORK.Process(target=self._project_in_child, daemon=True)
        child.start()
        time.sleep(after_s)
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        child.join(PROCESS_TIMEOUT_S)

    def _follow_relay(self) -> None:
        """In the relay's process: follow until SIGTERM (a refusal ends it, as it ends the CLI)."""
        ledger = GrantLedger(self.store_url)
        skips = [SkipRequest(at, REASON) for at in self.forged]
        relay = Relay(ledger, self.settings, self.broker.bootstrap, ledger_signer(), skips=skips)
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        # As `grant-ledger relay` stops: the same handlers, the same deadline.
        with (
            stop_on_signals(lambda _signal: relay.stop(), relay.stop_deadline(EXIT_UNAVAILABLE)),
            contextlib.suppress(LedgerError),
        ):
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # held since the fork
            relay.run()

    def _project_in_child(self) -> None:
        with contextlib.suppress(LedgerError):  # it stops on a forgery: fine, it gets killed
            self._project()

    def _forge(self, kind: str, partition: int, data: st.DataObject) -> None:
        envelopes = list(store_envelopes(self.ledger))
        last = envelopes[-1]
        if kind == "poison":
            value = data.draw(st.sampled_from([b"not json", b'{"position": 3}', b"[]"]))
        else:
            if kind == "next":
                base = {**last, "position": last["position"] + 1, "prev_hash": last["hash"]}
            elif kind == "far":
                base = {**last, "position": 10**9}
            else:
                base = dict(data.draw(st.sampled_from(envelopes)))
            base["data"] = {**base["data"], "amount_ore": 10**12}
            base.pop("hash")
            base["hash"] = chain_hash(base["prev_hash"], canonical_bytes(base))
            value = orjson.dumps(base)
        # A topic not created yet leaves send() waiting for its metadata: give up in seconds, not
        # the client's default minute (there is nothing to forge on then).
        producer = KafkaProducer(
            bootstrap_servers=self.broker.bootstrap, max_block_ms=FORGE_METADATA_WAIT_MS
        )
        try:
            metadata = producer.send(self.topic, value=value, partition=partition).get(30)
        except Exception:
            return  # the topic does not exist yet (nothing published): nothing to forge on
        finally:
            producer.close()
        self.forged.add(MessageAt(self.topic, metadata.partition, metadata.offset))

    # ----------------------------------------------------------------- the invariant

    @invariant()
    def never_wrong(self) -> None:
        """Positions 1..k applied, k within the store, and exactly the balances of those k."""
        with ReadStore.open(self.read_store_url) as read_store:
            applied = read_store.progress().applied.position
            held = stored_view_balances(read_store)
        assert 0 <= applied <= self.recorded
        events = [event for _, event in self.ledger.programme_events()][:applied]
        assert held == reference_balances(events, today=datetime.now(tz=UTC).date())


def test_the_read_store_is_never_wrong(broker: Broker) -> None:
    Pipeline.broker = broker
    examples = EXAMPLES if isinstance(broker.process, DevBroker) else EXAMPLES // KAFKA_SHARE
    run_state_machine_as_test(
        Pipeline,
        settings=settings(
            max_examples=max(1, examples),
            stateful_step_count=STEPS,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=SUITE_SETTINGS.vopr_examples == DEFAULT_VOPR_EXAMPLES,
        ),
    )


pytestmark = pytest.mark.kafka
