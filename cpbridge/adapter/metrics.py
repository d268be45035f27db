"""Prometheus metrics for the adapter, on a registry of its own (served at ``/metrics``).

Counters count what this process did; the outbox gauges are read from the
database on each scrape, so every process of a shared PostgreSQL outbox
reports the same queue (alert on ``max`` across instances, not ``sum``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .outbox import STATUSES


class AdapterMetrics:
    def __init__(self, outbox=None):
        self.registry = r = CollectorRegistry()
        self.received = Counter("cpbridge_messages_received", "Messages accepted into the outbox (resends not counted)", ["system"], registry=r)
        self.duplicates = Counter("cpbridge_messages_duplicate", "Resent messages acknowledged again without storing them twice", ["system"], registry=r)
        self.rejected = Counter("cpbridge_messages_rejected", "Messages refused with a fault", ["system", "code"], registry=r)
        self.lookups = Counter("cpbridge_lookups", "Lookups answered", ["system"], registry=r)
        self.delivered = Counter(
            "cpbridge_events_delivered", "Events the directory answered (applied, stale or duplicate)", ["system", "outcome"], registry=r
        )
        self.retried = Counter("cpbridge_events_retried", "Delivery attempts rescheduled, by fault code", ["system", "code"], registry=r)
        self.dead_lettered = Counter("cpbridge_events_dead_lettered", "Events parked as dead letters, by fault code", ["system", "code"], registry=r)
        self.pruned = Counter("cpbridge_outbox_pruned", "Delivered or discarded rows deleted after the retention period", registry=r)
        self.delivery_latency = Histogram(
            "cpbridge_delivery_latency_seconds",
            "From acceptance to application at the directory",
            ["system"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400),
            registry=r,
        )
        self.queue_depth = Gauge("cpbridge_outbox_depth", "Outbox rows by system and status", ["system", "status"], registry=r)
        self.queue_age = Gauge(
            "cpbridge_outbox_oldest_pending_seconds", "Age of the oldest pending row, per system", ["system"], registry=r
        )
        self.dead_letters = Gauge("cpbridge_outbox_dead_letters", "Dead letters waiting for an operator, by system and code", ["system", "code"], registry=r)
        self.directory_up = Gauge("cpbridge_directory_reachable", "1 if the directory answered the last readiness probe", registry=r)
        self._outbox = outbox

    def refresh(self) -> None:
        """Read queue depth, age and dead letters from the outbox (called on each scrape)."""
        if self._outbox is None:
            return
        counts = self._outbox.counts_by_system()
        systems = {s for s, _ in counts}
        self.queue_depth.clear()
        for system in systems:
            for status in STATUSES:
                self.queue_depth.labels(system=system, status=status).set(counts.get((system, status), 0))
        now = datetime.now(UTC)
        oldest = self._outbox.oldest_pending_by_system()
        self.queue_age.clear()
        for system in systems:
            self.queue_age.labels(system=system).set((now - oldest[system]).total_seconds() if system in oldest else 0)
        self.dead_letters.clear()
        for group in self._outbox.dead_letters():
            self.dead_letters.labels(system=group.system_id, code=group.error_code or "unknown").set(group.count)
