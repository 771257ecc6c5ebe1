"""`grant-ledger serve --workers N` as a separate process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

CLI = Path(sys.executable).parent / "grant-ledger"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0
POLL_S = 0.2


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    store_url: str, workers: int, workdir: Path, env: Mapping[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """(base URL, the server process) while the API runs in `workdir` (where its development
    key and read store live); stopped (SIGINT) afterwards."""
    port = free_port()
    command = [str(CLI), "serve", "--workers", str(workers), "--port", str(port)]
    # The server's log goes to a file: a pipe nobody reads would block it once full.
    with tempfile.TemporaryFile() as server_log:
        process = subprocess.Popen(
            [*command, "--store", store_url],
            env={**os.environ, **(env or {})},
            cwd=workdir,
            stdout=subprocess.DEVNULL,
            stderr=server_log,
        )
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_healthy(base_url, process, workers, server_log)
            yield base_url, process
        except BaseException:
            server_log.seek(0)
            print(f"server log (tail): {server_log.read().decode()[-4_000:]}", file=sys.stderr)
            raise
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_healthy(
    base_url: str, process: subprocess.Popen[bytes], workers: int, server_log: IO[bytes]
) -> None:
    # Workers that are not up yet do not accept connections on the shared socket, so answers
    # come from ready workers only; `workers` answers are a sign the start-up is through.
    deadline = time.monotonic() + START_TIMEOUT_S
    healthy = 0
    while healthy < workers:
        if process.poll() is not None:
            server_log.seek(0)
            raise AssertionError(f"serve exited: {server_log.read().decode()[-2_000:]}")
        assert time.monotonic() < deadline, "the API did not come up"
        try:
            healthy += httpx.get(f"{base_url}/v1/health", timeout=2.0).status_code == 200
        except httpx.TransportError:
            time.sleep(POLL_S)


def worker_pids(server: subprocess.Popen[bytes]) -> list[int]:
    """The server process and its children (uvicorn's workers), from /proc."""
    pids = [server.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            if parent == server.pid:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes so far (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks
