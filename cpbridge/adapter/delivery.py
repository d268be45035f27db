"""The delivery worker: takes due rows from the outbox and applies them at the directory.

* A call that fails transiently is retried a few times at once (tenacity,
  exponential backoff with jitter), then rescheduled in the outbox with a
  growing, jittered delay (capped at ``backoff_max``) — for as long as it takes.
* While the directory is unreachable the worker stops the batch early and
  releases the other leases, so an outage does not burn attempts on every row.
* A fault that retrying cannot fix (the directory refused the content) parks
  the row as a dead letter with the reason; so does a server error that keeps
  recurring for the same row ``max_attempts`` times (a poison message).
"""

from __future__ import annotations

import random
import threading
import time
from datetime import datetime, timezone

import structlog
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from .directory_client import DeliveryError, DirectoryClient
from .outbox import Claimed, Outbox

log = structlog.get_logger("cpbridge.delivery")


def backoff_delay(attempts: int, initial: float, maximum: float) -> float:
    """Exponential backoff with full jitter: uniform in [base/2, base], base = initial * 2**attempts."""
    base = min(maximum, initial * (2 ** min(attempts, 30)))
    return random.uniform(base / 2, base)


class DeliveryWorker:
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
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

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
        """Deliver one batch; return how many rows reached a final state or were rescheduled."""
        batch = self.outbox.claim(self.batch_size)
        done = 0
        for i, row in enumerate(batch):
            log_ = log.bind(tracking_id=row.tracking_id, event_id=row.event_id, system=row.system_id, operation=row.operation)
            try:
                result = self._send(row)
            except DeliveryError as err:
                if not err.retryable:
                    self.outbox.park(row.id, err.code, err.message)
                    log_.warning("dead_letter", code=err.code, reason=err.message)
                    self._count("dead_lettered", row)
                elif err.code == "InternalError" and row.attempts + 1 >= self.max_attempts:
                    self.outbox.park(row.id, err.code, f"gave up after {row.attempts + 1} attempts: {err.message}")
                    log_.warning("dead_letter", code=err.code, attempts=row.attempts + 1)
                    self._count("dead_lettered", row)
                else:
                    delay = backoff_delay(row.attempts, self.backoff_initial, self.backoff_max)
                    self.outbox.retry_later(row.id, err.code, err.message, delay)
                    log_.info("retry_scheduled", code=err.code, delay=round(delay, 2), attempts=row.attempts + 1)
                    self._count("retried", row)
                    if err.code == "Unavailable":
                        for rest in batch[i + 1 :]:
                            self.outbox.retry_later(rest.id, err.code, "not tried: directory unavailable", delay)
                        return done + 1
            except Exception as exc:  # a bug must not kill the worker or lose the row
                delay = backoff_delay(row.attempts, self.backoff_initial, self.backoff_max)
                self.outbox.retry_later(row.id, "InternalError", f"adapter error: {type(exc).__name__}", delay)
                log_.error("delivery_bug", error=type(exc).__name__)
            else:
                self.outbox.delivered(row.id, result)
                log_.info("delivered", outcome=result.outcome.value, match=result.match_outcome.value)
                self._count("delivered", row)
                if self.metrics:
                    latency = (datetime.now(timezone.utc) - _aware(row.created_at)).total_seconds()
                    self.metrics.delivery_latency.labels(system=row.system_id).observe(latency)
            done += 1
        return done

    def _count(self, what: str, row: Claimed) -> None:
        if self.metrics:
            getattr(self.metrics, what).labels(system=row.system_id).inc()

    def drain(self, timeout: float = 30.0) -> bool:
        """Deliver until nothing is due (tests and ``cpbridge outbox flush``); True if emptied."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.run_once() == 0:
                return self.outbox.counts()["pending"] == 0
        return False

    # --- background thread ------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception as exc:  # database briefly unavailable, etc.
                log.error("worker_pass_failed", error=type(exc).__name__)
                worked = 0
            if not worked:
                self._stop.wait(self.poll_interval)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="cpbridge-delivery", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)
