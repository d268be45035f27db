"""Prometheus metrics for the adapter, on a registry of its own (served at ``/metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class AdapterMetrics:
    def __init__(self, outbox=None):
        self.registry = CollectorRegistry()
        labels = ["system"]
        self.received = Counter("cpbridge_messages_received", "Messages accepted into the outbox", labels, registry=self.registry)
        self.rejected = Counter("cpbridge_messages_rejected", "Messages refused with a fault", labels + ["code"], registry=self.registry)
        self.lookups = Counter("cpbridge_lookups", "Lookups answered", labels, registry=self.registry)
        self.delivered = Counter("cpbridge_events_delivered", "Events applied by the directory", labels, registry=self.registry)
        self.retried = Counter("cpbridge_events_retried", "Delivery attempts rescheduled", labels, registry=self.registry)
        self.dead_lettered = Counter("cpbridge_events_dead_lettered", "Events parked as dead letters", labels, registry=self.registry)
        self.delivery_latency = Histogram(
            "cpbridge_delivery_latency_seconds",
            "From acceptance to application at the directory",
            labels,
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600),
            registry=self.registry,
        )
        self.queue_depth = Gauge("cpbridge_outbox_depth", "Outbox rows by status", ["status"], registry=self.registry)
        self.queue_age = Gauge("cpbridge_outbox_oldest_pending_seconds", "Age of the oldest pending row", registry=self.registry)
        self._outbox = outbox

    def refresh(self) -> None:
        """Read queue depth and age from the outbox (called on each scrape)."""
        if self._outbox is None:
            return
        from datetime import datetime, timezone

        for status, n in self._outbox.counts().items():
            self.queue_depth.labels(status=status).set(n)
        oldest = self._outbox.oldest_pending()
        if oldest is None:
            self.queue_age.set(0)
        else:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
            self.queue_age.set((datetime.now(timezone.utc) - oldest).total_seconds())
