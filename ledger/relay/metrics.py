"""What the relay tells Prometheus: throughput, lag, checkpoints, errors, mode."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge

from ledger.relay.publishers import MODE_IDEMPOTENT, MODE_TRANSACTIONS


class RelayMetrics:
    """The relay's gauges and counters in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.published = Counter(
            "grant_ledger_relay_events_published",
            "Events the relay put on the topic",
            registry=registry,
        )
        self.events_per_s = Gauge(
            "grant_ledger_relay_events_per_second",
            "Events published per second over the last observation interval",
            registry=registry,
        )
        self.position = Gauge(
            "grant_ledger_relay_position",
            "Position of the last event handed to Kafka",
            registry=registry,
        )
        self.lag_positions = Gauge(
            "grant_ledger_relay_lag_positions",
            "Recorded events not yet published",
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "grant_ledger_relay_lag_seconds",
            "Age of the oldest recorded event not yet published (0 when caught up)",
            registry=registry,
        )
        self.checkpoint_position = Gauge(
            "grant_ledger_relay_last_checkpoint_position",
            "Position of the last checkpoint published",
            registry=registry,
        )
        self.checkpoint_time = Gauge(
            "grant_ledger_relay_last_checkpoint_timestamp_seconds",
            "When the last checkpoint was published (Unix time)",
            registry=registry,
        )
        self.errors = Counter(
            "grant_ledger_relay_errors",
            "Failures the relay recovered from, by dependency",
            ["dependency"],
            registry=registry,
        )
        self.mode = Gauge(
            "grant_ledger_relay_mode",
            "1 for the publishing mode in use (transactions or idempotent)",
            ["mode"],
            registry=registry,
        )
        self._last_rate_at = time.monotonic()
        self._published_at_last_rate = 0

    def set_mode(self, mode: str) -> None:
        """The mode of the current connection."""
        for known in (MODE_TRANSACTIONS, MODE_IDEMPOTENT):
            self.mode.labels(mode=known).set(1 if known == mode else 0)

    def checkpointed(self, position: int) -> None:
        """A checkpoint at `position` went out."""
        self.checkpoint_position.set(position)
        self.checkpoint_time.set(time.time())

    def observe(
        self, published_total: int, lag_positions: int, oldest_unpublished: str | None
    ) -> None:
        """Lag and rate, from the store's view of what is not yet published."""
        now = time.monotonic()
        elapsed_s = now - self._last_rate_at
        if elapsed_s > 0:
            self.events_per_s.set((published_total - self._published_at_last_rate) / elapsed_s)
        self._last_rate_at, self._published_at_last_rate = now, published_total
        self.lag_positions.set(lag_positions)
        if oldest_unpublished is None or lag_positions == 0:
            self.lag_seconds.set(0)
            return
        recorded = datetime.fromisoformat(oldest_unpublished.replace("Z", "+00:00"))
        self.lag_seconds.set(max(0.0, (datetime.now(tz=UTC) - recorded).total_seconds()))
