"""The delivery worker's decisions: deliver, retry with backoff, or park as a dead letter."""

from __future__ import annotations

import pytest

from cpbridge.adapter.delivery import DeliveryWorker, backoff_delay
from cpbridge.adapter.directory_client import DeliveryError
from cpbridge.adapter.outbox import Outbox
from cpbridge.model import WriteResult

from .test_outbox import CHILD, closed, opened


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


def test_a_close_before_its_open_is_deferred_then_delivered(outbox):

    outbox.accept("ics", "m2", "closed", [closed("m2")])
    no_open = DeliveryError("NoSuchInvolvement", "no involvement R1", False)
    d = FakeDirectory([no_open])
    w = worker(outbox, d)
    w.run_once()
    assert outbox.counts() == {"pending": 1, "delivered": 0, "dead": 0, "discarded": 0}
    assert outbox.rows("pending")[0].error_code == "NoSuchInvolvement"
    outbox.accept("ics", "m1", "referral", [opened("m1")])  # the open arrives late
    assert w.drain(5)
    assert [op for op, _ in d.applied] == ["RegisterInvolvement", "EndInvolvement"]


def test_a_close_whose_open_never_comes_is_parked_after_max_attempts(outbox):
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    d = FakeDirectory([DeliveryError("NoSuchInvolvement", "no involvement R1", False)] * 10)
    worker(outbox, d, max_attempts=3).drain(5)
    dead = outbox.rows("dead")
    assert [(r.error_code, r.attempts) for r in dead] == [("NoSuchInvolvement", 3)]


def test_an_outage_gives_the_rest_of_the_batch_back_untried(outbox):
    other = dict(CHILD, identifier=[{"scheme": "local", "value": "C-2", "system": "ics"}])
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m3", "referral", [opened("m3", child=other, ref="R9")])
    d = FakeDirectory([DeliveryError("Unavailable", "connection refused", True)])
    w = worker(outbox, d)
    assert w.run_once() == 1
    attempts = sorted(r.attempts for r in outbox.rows("pending"))
    assert attempts == [0, 1]  # only the row actually tried counts an attempt
    assert w.drain(5) and len(d.applied) == 2


def test_a_lease_shorter_than_one_call_is_renewed_before_sending(sqlite_url):
    ob = Outbox(sqlite_url, lease_seconds=1)
    ob.accept("ics", "m1", "referral", [opened("m1")])
    calls = []
    real_renew = ob.renew
    ob.renew = lambda row, **kw: calls.append(row.id) or real_renew(row, **kw)
    d = FakeDirectory()
    assert worker(ob, d).drain(5)  # 3 quick retries x (10 s timeout + 1 s) > 1 s lease
    assert calls and len(d.applied) == 1
    ob.close()


def test_worker_logs_codes_never_fault_messages(outbox, tmp_path):
    from cpbridge.logging import configure_logging

    log_file = tmp_path / "log.jsonl"
    configure_logging("debug", stream=log_file.open("w"))
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    d = FakeDirectory([DeliveryError("IdentifierConflict", "NHS number 9434765919 belongs to Ava Khan", False)])
    worker(outbox, d).drain(5)
    text = log_file.read_text()
    assert "IdentifierConflict" in text and "dead_letter" in text
    assert "9434765919" not in text and "Khan" not in text
    assert "Khan" in outbox.rows("dead")[0].last_error  # the operator still sees the reason in full


def test_an_adapter_bug_is_retried_then_parked(outbox):
    class Broken:
        def apply(self, operation, payload):
            raise KeyError("eventId")

    outbox.accept("ics", "m1", "referral", [opened("m1")])
    worker(outbox, Broken(), max_attempts=2).drain(5)
    dead = outbox.rows("dead")
    assert [(r.error_code, r.attempts) for r in dead] == [("InternalError", 2)]
    assert "KeyError" in dead[0].last_error
