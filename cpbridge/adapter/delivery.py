"""The delivery worker: takes due rows from the outbox and applies them at the directory.

* Before a call whose lease might run out during it (slow batches), the lease
  is renewed and the child's order re-checked, so a row is never sent outside
  its lease and two workers never hold two events of one child.
* A call that fails transiently is retried a few times at once (tenacity,
  exponential backoff with jitter), then rescheduled in the outbox with a
  growing, jittered delay (capped at ``backoff_max``) — for as long as it takes.
* While the directory is unreachable the worker stops the batch early and
  gives the other rows back untried, so an outage does not burn attempts.
* A fault that retrying cannot fix (the directory refused the content) parks
  the row as a dead letter with the reason; so does a server error that keeps
  recurring for the same row ``max_attempts`` times (a poison message).
* An unexpected error in the adapter itself is retried like a server error and
  parked after ``max_attempts``.
* ``NoSuchInvolvement`` is deferred rather than parked at once: the open it
  needs may still be on its way (a local system that sent a close first). It
  is retried with backoff up to ``max_attempts`` times, then parked.

Logs carry ids and fault codes only: a fault's message can quote personal data.
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime

import structlog
from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from .background import BackgroundLoop
from .directory_client import DeliveryError, DirectoryClient
from .outbox import Claimed, Outbox, as_utc

log = structlog.get_logger("cpbridge.delivery")

#: Faults another event may cure (the open arriving after its close): retried, then parked.
DEFERRABLE_FAULTS = frozenset({"NoSuchInvolvement"})


def backoff_delay(attempts: int, initial: float, maximum: float) -> float:
    """Exponential backoff with jitter: uniform in [base/2, base], base = initial * 2**attempts (capped)."""
    base = min(maximum, initial * (2 ** min(attempts, 30)))
    return random.uniform(base / 2, base)


class DeliveryWorker(BackgroundLoop):
    def __init__(
        self,
        outbox: Outbox,
        client: DirectoryClient,
        *,
        batch_size: int = 20,
        poll_interval: float = 0.5,
        max_attempts: int = 12,
        backoff_initial: float = 1.0,
        backoff_max: float = 300.0,
        quick_retries: int = 3,
        metrics=None,
    ):
        self.outbox = outbox
        self.client = client
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_attempts = max_attempts
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.quick_retries = quick_retries
        self.metrics = metrics
        super().__init__(poll_interval)

    # --- one pass -------------------------------------------------------------------

    def _send(self, row: Claimed):
        retrying = Retrying(
            stop=stop_after_attempt(self.quick_retries),
            wait=wait_exponential_jitter(multiplier=0.05, max=1.0, jitter=0.1),
            retry=retry_if_exception(lambda e: isinstance(e, DeliveryError) and e.retryable and e.code != "Unavailable"),
            reraise=True,
        )
        return retrying(self.client.apply, row.operation, row.payload)

    def run_once(self) -> int:
        """Deliver one batch; return how many rows were delivered, rescheduled or parked."""
        batch = self.outbox.claim(self.batch_size)
        done = 0
        for i, row in enumerate(batch):
            if self.stopping:  # shutting down: give the rest back for the next start
                for rest in batch[i:]:
                    self.outbox.release(rest)
                break
            if self._lease_short(row) and not self.outbox.renew(row):
                log.info("lease_given_up", tracking_id=row.tracking_id, event_id=row.event_id)
                continue
            outcome = self._deliver(row)
            done += 1
            if outcome == "unavailable":
                delay = backoff_delay(row.attempts, self.backoff_initial, self.backoff_max)
                for rest in batch[i + 1 :]:
                    self.outbox.release(rest, delay)
                break
        return done

    @property
    def send_budget(self) -> float:
        """The longest one row's call may take: every quick retry timing out, plus the waits between."""
        return self.quick_retries * (float(getattr(self.client, "timeout", 10.0)) + 1.0)

    def _lease_short(self, row: Claimed) -> bool:
        """True if the lease might run out during the call (then it is renewed first)."""
        if row.leased_until is None:
            return True
        return (row.leased_until - datetime.now(UTC)).total_seconds() < self.send_budget

    def _deliver(self, row: Claimed) -> str:
        """Call the directory for one row and record the outcome; return what happened."""
        log_ = log.bind(tracking_id=row.tracking_id, event_id=row.event_id, system=row.system_id, operation=row.operation)
        attempts = row.attempts + 1
        try:
            result = self._send(row)
        except DeliveryError as err:
            if err.retryable and not (err.code == "InternalError" and attempts >= self.max_attempts):
                delay = backoff_delay(row.attempts, self.backoff_initial, self.backoff_max)
                self.outbox.retry_later(row, err.code, err.message, delay)
                log_.info("retry_scheduled", code=err.code, delay=round(delay, 2), attempts=attempts)
                self._count("retried", row, err.code)
                return "unavailable" if err.code == "Unavailable" else "retry"
            if err.code in DEFERRABLE_FAULTS and attempts < self.max_attempts:
                delay = backoff_delay(row.attempts, self.backoff_initial, self.backoff_max)
                self.outbox.retry_later(row, err.code, err.message, delay)
                log_.info("deferred", code=err.code, delay=round(delay, 2), attempts=attempts)
                self._count("retried", row, err.code)
                return "retry"
            retried = err.retryable or err.code in DEFERRABLE_FAULTS
            reason = f"gave up after {attempts} attempts: {err.message}" if retried else err.message
            self.outbox.park(row, err.code, reason)
            log_.warning("dead_letter", code=err.code, attempts=attempts)
            self._count("dead_lettered", row, err.code)
            return "dead"
        except Exception as exc:  # a bug must not kill the worker or lose the row
            log_.error("delivery_bug", error=type(exc).__name__)
            if attempts >= self.max_attempts:
                self.outbox.park(row, "InternalError", f"adapter error {type(exc).__name__}, {attempts} times")
                self._count("dead_lettered", row, "InternalError")
                return "dead"
            delay = backoff_delay(row.attempts, self.backoff_initial, self.backoff_max)
            self.outbox.retry_later(row, "InternalError", f"adapter error: {type(exc).__name__}", delay)
            self._count("retried", row, "AdapterError")
            return "retry"
        if not self.outbox.delivered(row, result):
            log_.warning("lease_lost", outcome=result.outcome.value)  # another worker owns the row now
        log_.info("delivered", outcome=result.outcome.value, match=result.match_outcome.value)
        if self.metrics:
            self.metrics.delivered.labels(system=row.system_id, outcome=result.outcome.value).inc()
            latency = (datetime.now(UTC) - as_utc(row.created_at)).total_seconds()
            self.metrics.delivery_latency.labels(system=row.system_id).observe(latency)
        return "delivered"

    def _count(self, what: str, row: Claimed, code: str) -> None:
        if self.metrics:
            getattr(self.metrics, what).labels(system=row.system_id, code=code).inc()

    def drain(self, timeout: float = 30.0) -> bool:
        """Deliver until nothing is pending or ``timeout`` passes (tests, ``cpbridge outbox flush``); True if emptied.

        Rows waiting out a backoff are waited for, so a short outage does not end the drain early.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once() == 0:
                if self.outbox.counts()["pending"] == 0:
                    return True
                time.sleep(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
        return self.outbox.counts()["pending"] == 0

    # --- background thread ------------------------------------------------------------

    thread_name = "cpbridge-delivery"

    def tick(self) -> int:
        return self.run_once()
