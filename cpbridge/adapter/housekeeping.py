"""Background chores of a running adapter: pruning the outbox and probing the directory.

Every adapter process prunes; on a shared PostgreSQL outbox that is harmless
(the same DELETE twice removes nothing the second time).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import structlog

from .outbox import Outbox

log = structlog.get_logger("cpbridge.housekeeping")


class Pruner:
    """Deletes delivered and discarded rows older than ``retain`` every ``interval`` seconds."""

    def __init__(self, outbox: Outbox, retain: timedelta, interval: float, metrics=None):
        self.outbox = outbox
        self.retain = retain
        self.interval = interval
        self.metrics = metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def prune_once(self) -> int:
        n = self.outbox.prune(self.retain)
        if self.metrics and n:
            self.metrics.pruned.inc(n)
        log.info("pruned", rows=n, retain_days=self.retain.days)
        return n

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.prune_once()
            except Exception as exc:  # the database may be briefly away; try again next time
                log.error("prune_failed", error=type(exc).__name__)

    def start(self) -> None:
        if self.interval > 0 and self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="cpbridge-prune", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None


class DirectoryProbe:
    """Whether the directory answers, remembered for ``ttl`` seconds so probes stay cheap."""

    def __init__(self, ping, ttl: float = 10.0, metrics=None):
        self._ping = ping
        self.ttl = ttl
        self.metrics = metrics
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._up = False

    def reachable(self) -> bool:
        with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return self._up
            self._up = bool(self._ping())
            self._at = time.monotonic()
            if self.metrics:
                self.metrics.directory_up.set(1 if self._up else 0)
            return self._up
