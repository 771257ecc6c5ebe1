"""Health, readiness and Prometheus metrics of a long-running process, over HTTP.

`GET /metrics` (Prometheus text format), `GET /health` (200 while the process's main loop keeps
beating, else 503) and `GET /ready` (200 once it does its job: connected and working, else 503
with the reason). Served from a daemon thread, so a stuck main loop shows as unhealthy instead
of hanging the probe.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# The main loops beat at least every few seconds (idle waits, broker back-off up to 15 s).
DEFAULT_STALE_AFTER_S = 60.0
OK = 200
UNAVAILABLE = 503
NOT_FOUND = 404


@dataclass
class _State:
    last_beat: float
    ready: bool = False
    reason: str = "starting"


class ProcessHealth:
    """What the main loop reports about itself: alive (beats) and ready (with a reason)."""

    def __init__(self, process: str, stale_after_s: float = DEFAULT_STALE_AFTER_S) -> None:
        self.process = process
        self.stale_after_s = stale_after_s
        self._state = _State(last_beat=time.monotonic())
        self._lock = threading.Lock()

    def beat(self) -> None:
        """The main loop is alive."""
        with self._lock:
            self._state.last_beat = time.monotonic()

    def set_ready(self, ready: bool, reason: str) -> None:
        """Ready to do the process's job, or not and why."""
        with self._lock:
            self._state.ready, self._state.reason = ready, reason
            self._state.last_beat = time.monotonic()

    def health(self) -> tuple[bool, dict[str, Any]]:
        """(alive, details)."""
        with self._lock:
            age_s = time.monotonic() - self._state.last_beat
        alive = age_s <= self.stale_after_s
        return alive, {"process": self.process, "alive": alive, "last_beat_s_ago": round(age_s, 1)}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """(ready, details): ready only while also alive."""
        alive, details = self.health()
        with self._lock:
            ready = alive and self._state.ready
            reason = self._state.reason if alive else "the main loop stopped beating"
        return ready, {**details, "ready": ready, "reason": reason}


class StatusServer:
    """Serves /metrics, /health and /ready on 127.0.0.1 or a given host, from a daemon thread."""

    def __init__(
        self, host: str, port: int, registry: CollectorRegistry, health: ProcessHealth
    ) -> None:
        handler = _handler_for(registry, health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="status-server", daemon=True
        )

    @property
    def port(self) -> int:
        """The port it listens on (0 asked for a free one)."""
        return int(self._server.server_address[1])

    def start(self) -> StatusServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def _handler_for(
    registry: CollectorRegistry, health: ProcessHealth
) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(OK, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif self.path in ("/health", "/healthz"):
                alive, details = health.health()
                self._send(OK if alive else UNAVAILABLE, orjson.dumps(details))
            elif self.path in ("/ready", "/readyz"):
                ready, details = health.readiness()
                self._send(OK if ready else UNAVAILABLE, orjson.dumps(details))
            else:
                self._send(NOT_FOUND, orjson.dumps({"error": "unknown path", "path": self.path}))

        def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Probes every few seconds would flood the process's log."""

    return Handler
