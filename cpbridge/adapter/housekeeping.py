"""Background chores of a running adapter: pruning the outbox and probing the directory.

Every adapter process prunes; on a shared PostgreSQL outbox that is harmless
(the same DELETE twice removes nothing the second time).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import structlog

from .background import BackgroundLoop
from .directory_client import DeliveryError
from .outbox import Outbox

log = structlog.get_logger("cpbridge.housekeeping")


class Pruner(BackgroundLoop):
    """Deletes delivered and discarded rows older than ``retain`` every ``interval`` seconds (0: never)."""

    thread_name = "cpbridge-prune"

    def __init__(self, outbox: Outbox, retain: timedelta, interval: float, metrics=None):
        super().__init__(interval)
        self.outbox = outbox
        self.retain = retain
        self.metrics = metrics

    def prune_once(self) -> int:
        n = self.outbox.prune(self.retain)
        if self.metrics and n:
            self.metrics.pruned.inc(n)
        log.info("pruned", rows=n, retain_days=self.retain.days)
        return n

    def tick(self) -> bool:
        self.prune_once()
        return False

    def start(self) -> None:
        if self.interval > 0:
            super().start()


class ReviewFollowUp(BackgroundLoop):
    """Asks again, every ``interval`` seconds, about events the directory holds for identity review.

    Sending a held event again is safe: the directory answers a known event id as a
    ``duplicate`` and changes nothing — with the held outcome while the case is open,
    and with the outcome it was applied with once the management team has decided. The
    final outcome (matched child, directory ID, reason code) then reaches the local
    system through GetStatus like any other.
    """

    thread_name = "cpbridge-review-follow-up"

    def __init__(self, outbox: Outbox, client, interval: float, batch: int = 50):
        super().__init__(interval)
        self.outbox = outbox
        self.client = client
        self.batch = batch

    def follow_up_once(self) -> int:
        """Ask about each held event once; return how many were settled (no longer held)."""
        settled, after = 0, 0
        while page := self.outbox.awaiting_review(self.batch, after_id=after):
            after = page[-1][0]
            done, stop = self._ask(page)
            settled += done
            if stop:
                break
        return settled

    def _ask(self, page) -> tuple[int, bool]:
        """Ask about one page of held rows: (how many settled, whether the directory is away)."""
        settled = 0
        for row_id, operation, system, payload in page:
            try:
                result = self.client.apply(operation, payload)
            except DeliveryError as err:
                log.info("review_follow_up_failed", system=system, code=err.code)
                if err.code == "Unavailable":
                    return settled, True
                continue
            if result.match_outcome.value != "review":  # a duplicate answer still says "review" while held
                self.outbox.review_settled(row_id, result)
                settled += 1
                log.info("review_settled", system=system, event_id=payload.get("eventId"), match=result.match_outcome.value)
        return settled, False

    def tick(self) -> bool:
        self.follow_up_once()
        return False

    def start(self) -> None:
        if self.interval > 0:
            super().start()


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
