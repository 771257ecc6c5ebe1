"""A secured cluster: SASL/SCRAM credentials from the KAFKA_* environment reach every client.

The right credentials carry the ledger end to end (relay, verify, projector, rebuild); a wrong
password is a clear error naming the settings to check, and the password is never printed.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.infrastructure.kafka.apache_kafka import ApacheKafka
from tests.conftest import kafka_jars_or_skip
from tests.fill import fill

USER = "ledger-service"
PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "not-the-password-4711"
EVENTS = 40
RUN_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def scram_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApacheKafka]:
    """Apache Kafka with a SASL_PLAINTEXT listener (SCRAM-SHA-256) and one user."""
    broker = ApacheKafka(
        tmp_path_factory.mktemp("scram") / "data",
        kafka_jars_or_skip(),
        scram_users={USER: PASSWORD},
    ).start()
    try:
        yield broker
    finally:
        broker.stop()


def _grant_ledger(
    broker: ApacheKafka, tmp_path: Path, password: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GRANT_LEDGER_STORE": f"sqlite:///{tmp_path / 'ledger.db'}",
        "GRANT_LEDGER_READ_STORE": f"sqlite:///{tmp_path / 'read.db'}",
        "KAFKA_BOOTSTRAP_SERVERS": broker.sasl_bootstrap_servers,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "KAFKA_SASL_USERNAME": USER,
        "KAFKA_SASL_PASSWORD": password,
        "GRANT_LEDGER_TOPIC": f"secured-{tmp_path.name}",
        "GRANT_LEDGER_CHECKPOINT_TOPIC": f"secured-{tmp_path.name}.checkpoints",
    }
    return subprocess.run(
        [sys.executable, "-m", "commands.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def test_the_right_credentials_carry_the_ledger_end_to_end(
    scram_kafka: ApacheKafka, tmp_path: Path
) -> None:
    fill(f"sqlite:///{tmp_path / 'ledger.db'}", EVENTS)

    for command in (("relay", "--once"), ("verify",), ("project", "--once"), ("rebuild",)):
        done = _grant_ledger(scram_kafka, tmp_path, PASSWORD, *command)
        assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
        assert PASSWORD not in done.stdout + done.stderr
    balances = _grant_ledger(scram_kafka, tmp_path, PASSWORD, "balances", "--format", "json")
    assert balances.returncode == 0, balances.stderr
    assert '"disbursed_ore"' in balances.stdout


@pytest.mark.parametrize("command", [("relay", "--once"), ("verify",)])
def test_a_wrong_password_is_named_and_never_printed(
    scram_kafka: ApacheKafka, tmp_path: Path, command: tuple[str, ...]
) -> None:
    fill(f"sqlite:///{tmp_path / 'ledger.db'}", EVENTS)

    done = _grant_ledger(scram_kafka, tmp_path, WRONG_PASSWORD, *command)

    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "KAFKA_SASL_PASSWORD" in said
    assert "KAFKA_SASL_USERNAME='ledger-service'" in said
    assert "Traceback" not in said
    assert WRONG_PASSWORD not in said
    assert PASSWORD not in said
