"""The long-running processes are operable: JSON log lines, Prometheus metrics, health, ready."""

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest

from ledger.infrastructure.kafka.broker_process import pick_free_port
from tests.fill import fill

EVENTS = 60
READY_TIMEOUT_S = 120
POLL_S = 0.2


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics:\n{text}")


def _wait_ready(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while _get(port, "/ready")[0] != 200:
        assert process.poll() is None, process.communicate()[1][-3000:]
        assert time.monotonic() < deadline, _get(port, "/ready")
        time.sleep(POLL_S)


def _start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    with log.open("w") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "commands.cli.main", *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            text=True,
        )


def _stop(process: subprocess.Popen[str], log: Path) -> list[dict[str, object]]:
    process.send_signal(signal.SIGTERM)
    assert process.wait(60) == 0, log.read_text()[-3000:]
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    return [orjson.loads(line) for line in lines]


def test_relay_and_projector_serve_metrics_health_and_json_logs(
    kafka_bootstrap: str, topic_name: str, tmp_path: Path
) -> None:
    fill(f"sqlite:///{tmp_path / 'ledger.db'}", EVENTS)
    env = {
        "GRANT_LEDGER_STORE": f"sqlite:///{tmp_path / 'ledger.db'}",
        "GRANT_LEDGER_READ_STORE": f"sqlite:///{tmp_path / 'read.db'}",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GRANT_LEDGER_TOPIC": topic_name,
        "GRANT_LEDGER_CHECKPOINT_TOPIC": f"{topic_name}.checkpoints",
        "GRANT_LEDGER_LOG_FORMAT": "json",
    }
    relay_port, projector_port = pick_free_port(), pick_free_port()
    relay = _start(["relay", "--status-port", str(relay_port)], env, tmp_path / "relay.log")
    try:
        _wait_ready(relay_port, relay)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while (
            _metric(
                _get(relay_port, "/metrics")[1].decode(),
                "grant_ledger_relay_last_checkpoint_position",
            )
            < EVENTS
        ):
            assert time.monotonic() < deadline
            time.sleep(POLL_S)
        assert _get(relay_port, "/health")[0] == 200
        metrics = _get(relay_port, "/metrics")[1].decode()
        assert _metric(metrics, "grant_ledger_relay_events_published_total") == EVENTS
        assert _metric(metrics, "grant_ledger_relay_position") == EVENTS

        projector = _start(
            ["project", "--status-port", str(projector_port), "--session-timeout-ms", "3000"],
            env,
            tmp_path / "projector.log",
        )
        try:
            _wait_ready(projector_port, projector)
            deadline = time.monotonic() + READY_TIMEOUT_S
            while (
                _metric(
                    _get(projector_port, "/metrics")[1].decode(), "grant_ledger_projector_position"
                )
                < EVENTS
            ):
                assert time.monotonic() < deadline
                time.sleep(POLL_S)
            projected = _get(projector_port, "/metrics")[1].decode()
            assert _metric(projected, "grant_ledger_projector_events_applied_total") == EVENTS
        finally:
            projector_lines = _stop(projector, tmp_path / "projector.log")
    finally:
        relay_lines = _stop(relay, tmp_path / "relay.log")
    for lines, process in ((relay_lines, "relay"), (projector_lines, "projector")):
        assert lines, f"{process} wrote no JSON log lines"
        for line in lines:
            assert {"time", "level", "process", "message", "fields"} <= line.keys()
            assert line["process"] == process


@pytest.mark.parametrize("command", ["relay", "project"])
def test_a_bad_status_port_is_refused_by_name(command: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "commands.cli.main", command],
        env={
            **os.environ,
            "GRANT_LEDGER_STATUS_PORT": "eighty",
            "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
            "GRANT_LEDGER_STORE": f"sqlite:///{tmp_path / 'ledger.db'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "GRANT_LEDGER_STATUS_PORT='eighty'" in done.stderr
    assert "Traceback" not in done.stderr
