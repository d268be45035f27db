"""The outbox's guarantees, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from cpbridge.adapter.outbox import Outbox
from cpbridge.model import (
    InvolvementClosed,
    InvolvementOpened,
    WriteResult,
    event_id_for,
)

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


# --- order by occurred_at, leases with tokens, operators -------------------------------------


def changed(msg: str, when: str, worker: str, child=CHILD, ref="R1"):
    from cpbridge.model import InvolvementChanged

    return InvolvementChanged(
        event_id=event_id_for("ics", msg, 0),
        source_system="ics",
        occurred_at=when,
        child=child,
        involvement={
            "localReference": ref,
            "service": "social_care",
            "organisation": "Leeds CSC",
            "startDate": "2026-02-01",
            "practitioner": {"name": worker},
        },
    )


def test_an_open_that_arrives_after_its_close_goes_first(outbox):
    outbox.accept("ics", "m2", "closed", [closed("m2")])
    first = outbox.claim(10)
    assert [r.event_type for r in first] == ["involvement_closed"]
    outbox.retry_later(first[0], "NoSuchInvolvement", "not yet", 0)  # the directory has no open yet
    outbox.accept("ics", "m1", "referral", [opened("m1")])  # produced earlier, arrives later
    assert [r.event_type for r in outbox.claim(10)] == ["involvement_opened"]


def test_an_earlier_event_waits_while_a_later_one_of_its_child_is_in_flight(outbox):
    outbox.accept("ics", "m3", "changed", [changed("m3", "2026-02-03T09:00:00Z", "Worker B")])
    in_flight = outbox.claim(10)
    assert len(in_flight) == 1
    outbox.accept("ics", "m2", "changed", [changed("m2", "2026-02-02T09:00:00Z", "Worker A")])
    assert outbox.claim(10) == []  # never two events of one child at once
    outbox.delivered(in_flight[0], ok(in_flight[0]))
    assert [r.event_id for r in outbox.claim(10)] == [event_id_for("ics", "m2", 0)]


def test_a_worker_that_lost_its_lease_cannot_overwrite_the_outcome(outbox):
    from cpbridge.adapter.outbox import utcnow

    outbox.accept("ics", "m1", "referral", [opened("m1")])
    slow = outbox.claim(1)[0]
    later = utcnow() + timedelta(seconds=31)
    taker = outbox.claim(1, now=later)[0]  # the first lease ran out: another worker took the row
    assert taker.lease_token != slow.lease_token
    assert not outbox.renew(slow)  # the stalled worker learns it must not send
    assert not outbox.park(slow, "InvalidRequest", "too late")  # nor record an outcome
    assert outbox.delivered(taker, ok(taker))
    assert outbox.counts()["delivered"] == 1 and outbox.counts()["dead"] == 0


def test_renew_gives_the_row_back_when_an_earlier_event_arrived(outbox):
    outbox.accept("ics", "m3", "changed", [changed("m3", "2026-02-03T09:00:00Z", "Worker B")])
    row = outbox.claim(1)[0]
    outbox.accept("ics", "m2", "changed", [changed("m2", "2026-02-02T09:00:00Z", "Worker A")])
    assert not outbox.renew(row)  # not sent yet: the earlier event must go first
    assert [r.event_id for r in outbox.claim(10)] == [event_id_for("ics", "m2", 0)]


def test_renew_extends_a_lease_that_still_holds(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    row = outbox.claim(1)[0]
    assert outbox.renew(row)
    assert outbox.claim(1) == []


def test_release_counts_no_attempt(outbox):
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    row = outbox.claim(1)[0]
    assert outbox.release(row)
    again = outbox.claim(1)[0]
    assert again.attempts == 0


def test_replay_by_code_and_dead_letter_groups(outbox):
    other = dict(CHILD, identifier=[{"scheme": "local", "value": "C-2", "system": "ics"}])
    outbox.accept("ics", "m1", "referral", [opened("m1")])
    outbox.accept("ics", "m3", "referral", [opened("m3", child=other, ref="R9")])
    a, b = outbox.claim(10)
    outbox.park(a, "ConsentRequired", "needs consent")
    outbox.park(b, "IdentifierConflict", "NHS number belongs to another child")
    groups = {(g.error_code, g.count) for g in outbox.dead_letters()}
    assert groups == {("ConsentRequired", 1), ("IdentifierConflict", 1)}
    assert outbox.replay(code="ConsentRequired") == 1
    assert [r.error_code for r in outbox.rows("dead")] == ["IdentifierConflict"]
    assert outbox.discard([b.id]) == 1
    assert outbox.row(b.id).payload == "{}"


def test_a_long_local_message_id_is_stored_as_a_digest(outbox):
    long_id = "X" * 300
    first = outbox.accept("ics", long_id, "referral", [opened(long_id)])
    again = outbox.accept("ics", long_id, "referral", [opened(long_id)])
    assert again.duplicate and again.tracking_id == first.tracking_id


def test_sqlite_outbox_commits_with_full_sync(sqlite_url):
    from sqlalchemy import text

    ob = Outbox(sqlite_url)
    with ob.engine.connect() as conn:
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    ob.close()


def test_rows_accepted_before_the_order_migration_keep_their_order(db_url):
    """0002 backfills occurred_at from created_at, so rows already queued keep arrival order."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from cpbridge.adapter.outbox import MIGRATIONS
    from cpbridge.db import make_engine

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["version_table"] = "alembic_version_adapter"
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001_outbox")
        conn.execute(text(
            "INSERT INTO adapter_messages VALUES ('t1', 'ics', 'm1', 'referral', '2026-01-01 09:00:00', 1)"
        ))
        conn.execute(text(
            "INSERT INTO adapter_outbox (tracking_id, event_id, system_id, child_key, event_type, operation, payload,"
            " status, attempts, next_attempt_at, created_at) VALUES ('t1', 'ev-old', 'ics', 'ics:C-1',"
            " 'involvement_opened', 'RegisterInvolvement', '{}', 'pending', 0, '2026-01-01 09:00:00', '2026-01-01 09:00:00')"
        ))
    engine.dispose()
    ob = Outbox(db_url)
    ob.accept("ics", "m2", "closed", [closed("m2")])
    assert [r.event_id for r in ob.claim(10)] == ["ev-old"]
    ob.close()


def test_a_message_id_that_looks_like_free_text_is_stored_as_a_digest(outbox):
    from sqlalchemy import select

    from cpbridge.adapter.tables import Message

    text = "Mother says she is afraid"
    first = outbox.accept("ics", text, "referral", [opened("m1")])
    assert outbox.accept("ics", text, "referral", [opened("m1")]).duplicate  # still one message
    with outbox.sessions() as s:
        stored = s.scalar(select(Message.message_id).where(Message.tracking_id == first.tracking_id))
    assert stored.startswith("sha256:") and text not in stored
