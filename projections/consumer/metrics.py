"""What the projector tells Prometheus: applied events, lag, errors."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge

US_PER_S = 1_000_000


class ProjectorMetrics:
    """The projector's gauges and counters in one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.applied = Counter(
            "grant_ledger_projector_events_applied",
            "Events applied to the read store",
            registry=registry,
        )
        self.skipped = Counter(
            "grant_ledger_projector_events_skipped",
            "Events found already applied (re-delivered) and skipped",
            registry=registry,
        )
        self.events_per_s = Gauge(
            "grant_ledger_projector_events_per_second",
            "Events handled per second over the last observation interval",
            registry=registry,
        )
        self.position = Gauge(
            "grant_ledger_projector_position",
            "Highest position applied to the read store",
            registry=registry,
        )
        self.lag_messages = Gauge(
            "grant_ledger_projector_lag_messages",
            "Messages on the assigned partitions not yet consumed (fetch high-water marks)",
            registry=registry,
        )
        self.lag_seconds = Gauge(
            "grant_ledger_projector_lag_seconds",
            "How long ago the last applied event was recorded, while behind (0 when caught up)",
            registry=registry,
        )
        self.errors = Counter(
            "grant_ledger_projector_errors",
            "Failures the projector recovered from, by dependency",
            ["dependency"],
            registry=registry,
        )
        self._newest_recorded_at_us = 0
        self._handled = 0
        self._handled_at_last_rate = 0
        self._last_rate_at = time.monotonic()

    def batch(
        self, applied: int, skipped: int, highest_position: int, newest_recorded_at_us: int
    ) -> None:
        """One batch went into the read store."""
        self.applied.inc(applied)
        self.skipped.inc(skipped)
        self._handled += applied + skipped
        self.position.set(highest_position)
        self._newest_recorded_at_us = max(self._newest_recorded_at_us, newest_recorded_at_us)

    def observe(self, lag_messages: int) -> None:
        """Lag and rate, every few seconds."""
        now = time.monotonic()
        elapsed_s = now - self._last_rate_at
        if elapsed_s > 0:
            self.events_per_s.set((self._handled - self._handled_at_last_rate) / elapsed_s)
        self._last_rate_at, self._handled_at_last_rate = now, self._handled
        self.lag_messages.set(lag_messages)
        if lag_messages == 0 or self._newest_recorded_at_us == 0:
            self.lag_seconds.set(0)
        else:
            self.lag_seconds.set(max(0.0, time.time() - self._newest_recorded_at_us / US_PER_S))
