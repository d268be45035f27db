"""The outbox's guarantees, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cpbridge.adapter.outbox import Outbox
from cpbridge.model import InvolvementClosed, InvolvementOpened, WriteResult, event_id_for

CHILD = {
    "givenNames": "Ava",
    "familyName": "Khan",
    "dateOfBirth": "2016-04-01",
    "identifier": [{"scheme": "local", "value": "C-1", "system": "ics"}],
}


def opened(msg: str, child=CHILD, ref="R1"):
    return InvolvementOpened(
        event_id=event_id_for("ics", msg, 0),
        source_system="ics",
        occurred_at="2026-02-01T09:00:00Z",
        child=child,
        involvement={"localReference": ref, "service": "social_care", "organisation": "Leeds CSC", "startDate": "2026-02-01"},
    )


def closed(msg: str, child=CHILD, ref="R1"):
    return InvolvementClosed(
        event_id=event_id_for("ics", msg, 0),
        source_system="ics",
        occurred_at="2026-03-01T09:00:00Z",
        child=child,
        local_reference=ref,
        end_date="2026-03-01",
    )


@pytest.fixture
def outbox(db_url):
    ob = Outbox(db_url, lease_seconds=30)
    yield ob
    ob.close()


def ok(row):
    return WriteResult(event_id=row.event_id, outcome="applied", match_outcome="matched")


def test_same_message_twice_is_stored_once(outbox):
    first = outbox.accept("ics", "m1", "referral", [opened("m1")])
    again = outbox.accept("ics", "m1", "referral", [opened("m1")])
    assert not first.duplicate and again.duplicate
    assert again.tracking_id == first.tracking_id
    assert outbox.counts()["pending"] == 1


def test_a_close_never_overtakes_its_open(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    first = outbox.claim(10)
    assert [r.event_type for r in first] == ["involvement_opened"]
    # the open fails for now: the close must still wait behind it
    outbox.retry_later(first[0].id, "Unavailable", "down", 0)
    again = outbox.claim(10)
    assert [r.event_type for r in again] == ["involvement_opened"]
    outbox.delivered(again[0].id, ok(again[0]))
    assert [r.event_type for r in outbox.claim(10)] == ["involvement_closed"]


def test_other_children_are_not_held_up(outbox):
    other = dict(CHILD, identifier=[{"scheme": "local", "value": "C-2", "system": "ics"}])
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    outbox.accept("ics", "m3", "referral", [opened("m3", child=other, ref="R9")])
    assert {r.event_type for r in outbox.claim(10)} == {"involvement_opened"}


def test_a_lease_is_exclusive_until_it_expires(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    assert len(outbox.claim(10)) == 1
    assert outbox.claim(10) == []  # leased to the first worker
    from cpbridge.adapter.outbox import utcnow

    later = utcnow() + timedelta(seconds=31)
    assert len(outbox.claim(10, now=later)) == 1  # the first worker died: lease expired


def test_dead_letters_block_nothing_and_can_be_replayed(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    row = outbox.claim(10)[0]
    outbox.park(row.id, "ConsentRequired", "sensitive service without consent")
    nxt = outbox.claim(10)
    assert [r.event_type for r in nxt] == ["involvement_closed"]
    dead = outbox.rows("dead")
    assert [(d.error_code, d.last_error) for d in dead] == [("ConsentRequired", "sensitive service without consent")]
    status = outbox.status(row.tracking_id)
    assert status["status"] == "failed"
    assert outbox.replay() == 1
    outbox.delivered(nxt[0].id, ok(nxt[0]))
    assert outbox.counts()["pending"] == 1


def test_status_reports_the_directory_outcome(outbox):
    acc = outbox.accept("ics", "m1", "referral", [opened("m1")])
    row = outbox.claim(1)[0]
    outbox.delivered(
        row.id, WriteResult(event_id=row.event_id, outcome="applied", match_outcome="new", directory_id="CP3990325502")
    )
    st = outbox.status(acc.tracking_id)
    assert st["status"] == "delivered"
    assert st["events"][0]["matchOutcome"] == "new"
    assert st["events"][0]["directoryId"] == "CP3990325502"


def test_prune_removes_only_old_delivered_rows(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m2", "referral", [opened("m2", ref="R2")])
    row = outbox.claim(1)[0]
    outbox.delivered(row.id, ok(row))
    assert outbox.prune(timedelta(days=1)) == 0
    assert outbox.prune(timedelta(seconds=-1)) == 1
    assert outbox.counts() == {"pending": 1, "delivered": 0, "dead": 0, "discarded": 0}
