"""A directory that fails: faults retrying can fix and faults it cannot, 503s, garbage,
slowness, timeouts and answers lost after the change was applied.

The directory is :class:`bench.delivery_directory.FakeDirectory` (idempotent and
order-checking like the real one, with an apply counter and fault injection).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
from typer.testing import CliRunner

from bench.delivery_directory import FakeDirectory
from bench.delivery_messages import soap, stream
from cpbridge.cli import app as cli
from cpbridge.model import event_id_for
from cpbridge.testing import ServerThread, free_port

from .conftest import Sent, send_until_acked
from .test_crash import message_id_of

pytestmark = pytest.mark.fault

CHILDREN = 80
REFUSED = {3, 7}  # their referrals need consent the directory says is missing


def test_faults_retries_dead_letters_and_replay(inprocess_adapter, monkeypatch, fault_summary):
    fake = FakeDirectory(client_timeout=1.0)
    dport = free_port()
    directory = ServerThread(fake.app, dport).start()
    adapter = inprocess_adapter(dport, directory_timeout=1.0, max_attempts=4, delivery_workers=4)
    child = lambda c: int(c.child.split(":CV")[1])
    fake.inject(lambda c: c.operation == "RegisterInvolvement" and child(c) in REFUSED, "fault", code="ConsentRequired", times=None)
    fake.inject(lambda c: child(c) % 10 == 1 and c.attempt <= 4, "fault", code="InternalError", times=None)  # a passing server error
    fake.inject(lambda c: child(c) % 10 == 2, "http503", times=8)  # a proxy in front says 503
    fake.inject(lambda c: child(c) % 10 == 4, "garbage", times=6)  # an HTML error page
    fake.inject(lambda c: child(c) % 10 == 5, "slow", delay=0.3, times=30)  # slow but in time
    fake.inject(lambda c: child(c) % 10 == 6 and c.attempt == 1, "slow", delay=1.3, times=5)  # times out, then applies
    fake.inject(lambda c: child(c) % 10 == 8 and c.attempt == 1, "lost_answer", delay=1.3, times=5)  # applied, answer lost
    messages = stream(CHILDREN, reallocations=1)
    sent = Sent()
    deadline = time.monotonic() + 120
    for _, xml in messages:
        send_until_acked(f"{adapter.url}/systems/ics/soap", message_id_of(xml), soap(xml), sent, deadline=deadline)
    outbox = adapter.runtime.outbox
    counts = adapter.wait_settled(90)

    expected = {event_id_for("ics", message_id_of(xml), 0): n for n, xml in messages}
    dead = outbox.rows("dead", limit=1000)
    reasons = {(r.event_type, r.error_code) for r in dead}
    # the refused referrals are parked with the directory's reason; their closures, which need the
    # involvement, are retried (the open might still come) and then parked too; nothing else is held up
    assert reasons == {
        ("involvement_opened", "ConsentRequired"),
        ("involvement_changed", "ConsentRequired"),
        ("involvement_closed", "NoSuchInvolvement"),
    }
    assert {expected[r.event_id] for r in dead} == REFUSED
    assert all(r.last_error for r in dead)
    dead_reasons = dict(Counter(f"{r.event_type}:{r.error_code}" for r in dead))
    others = {e for e, n in expected.items() if n not in REFUSED}
    stale = {e for e, o in fake.applied.items() if o == "stale"}
    assert others - set(fake.applied) == set(), "an event of a healthy child was not delivered"
    assert not fake.overlaps and not fake.out_of_order()
    assert fake.injected["lost_answer"] and fake.injected["slow"] and fake.injected["http503"]

    # an operator fixes the cause (here: consent recorded, so the directory accepts) and replays
    fake.clear_faults()
    monkeypatch.setenv("CPBRIDGE_ADAPTER__DATABASE_URL", adapter.settings.outbox_db_url())
    runner = CliRunner()
    listed = runner.invoke(cli, ["outbox", "dead"])
    assert listed.exit_code == 0 and "ConsentRequired" in listed.output and "NoSuchInvolvement" in listed.output
    replayed = runner.invoke(cli, ["outbox", "replay", "--all"])
    assert replayed.exit_code == 0, replayed.output
    final = adapter.wait_settled(30)
    assert final == {"pending": 0, "delivered": len(expected), "dead": 0, "discarded": 0}
    assert set(fake.applied) == set(expected)
    assert not fake.overlaps and not fake.out_of_order() and not stale
    assert all(inv.open is False for inv in fake.involvements.values())
    resent = fake.resent()
    effects = sum(inv.applied for inv in fake.involvements.values())
    applied_outcomes = sum(1 for o in fake.applied.values() if o == "applied")
    assert effects == applied_outcomes == len(expected)
    directory.stop()
    fault_summary.update(
        {
            "messages": len(messages),
            "events delivered": len(fake.applied),
            "faults injected": dict(fake.injected),
            "resent to directory (answered duplicate)": resent,
            "applied twice": effects - applied_outcomes,
            "lost": len(set(expected) - set(fake.applied)),
            "dead letters before replay": dead_reasons,
            "after replay": final["dead"],
        }
    )
    assert counts["pending"] == 0
