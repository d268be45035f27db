"""The delivery worker's decisions: deliver, retry with backoff, or park as a dead letter."""

from __future__ import annotations

import pytest

from cpbridge.adapter.delivery import DeliveryWorker, backoff_delay
from cpbridge.adapter.directory_client import DeliveryError
from cpbridge.adapter.outbox import Outbox
from cpbridge.model import WriteResult

from .test_outbox import closed, opened


class FakeDirectory:
    """Answers from a script: an exception to raise, or None to succeed."""

    def __init__(self, script=()):
        self.script = list(script)
        self.applied: list[tuple[str, str]] = []

    def apply(self, operation, payload):
        if self.script:
            step = self.script.pop(0)
            if step is not None:
                raise step
        self.applied.append((operation, payload["eventId"]))
        return WriteResult(event_id=payload["eventId"], outcome="applied", match_outcome="matched")


@pytest.fixture
def outbox(sqlite_url):
    ob = Outbox(sqlite_url)
    yield ob
    ob.close()


def worker(outbox, client, **kw):
    return DeliveryWorker(outbox, client, backoff_initial=0.0, backoff_max=0.0, **kw)


def test_delivers_in_order(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    d = FakeDirectory()
    assert worker(outbox, d).drain(5)
    assert [op for op, _ in d.applied] == ["RegisterInvolvement", "EndInvolvement"]


def test_outage_is_retried_without_dead_letters(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    down = DeliveryError("Unavailable", "connection refused", True)
    d = FakeDirectory([down] * 5)
    assert worker(outbox, d).drain(5)
    assert len(d.applied) == 1
    assert outbox.counts()["dead"] == 0


def test_refused_content_is_parked_with_its_reason(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    d = FakeDirectory([DeliveryError("ConsentRequired", "mental_health needs consent", False)])
    worker(outbox, d).drain(5)
    dead = outbox.rows("dead")
    assert len(dead) == 1 and dead[0].error_code == "ConsentRequired"
    assert [op for op, _ in d.applied] == ["EndInvolvement"]  # nothing else was blocked


def test_a_poison_message_is_parked_after_max_attempts(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    boom = DeliveryError("InternalError", "server bug", True)
    d = FakeDirectory([boom] * 100)
    w = worker(outbox, d, max_attempts=2, quick_retries=1)
    w.drain(5)
    dead = outbox.rows("dead")
    assert len(dead) == 1 and "gave up after 2 attempts" in dead[0].last_error


def test_backoff_grows_and_is_capped():
    assert backoff_delay(0, 1, 300) <= 1
    assert 32 <= backoff_delay(6, 1, 300) <= 64
    assert backoff_delay(40, 1, 300) <= 300
