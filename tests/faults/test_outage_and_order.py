"""The real directory goes away mid-stream and comes back; input arrives duplicated and out of order.

Both run the adapter in this process against the reference directory and
check the directory's own tables at the end.
"""

from __future__ import annotations

import random
import time
from collections import Counter

import pytest
import requests
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from bench.delivery_messages import (
    _letters,
    case_ref,
    closure,
    reallocation,
    referral,
    soap,
    stream,
)
from cpbridge.directory.app import create_app as directory_app
from cpbridge.directory.tables import AppliedEvent, InvolvementRow
from cpbridge.model import event_id_for
from cpbridge.testing import ServerThread, free_port

from .conftest import Sent, send_until_acked
from .test_crash import message_id_of

pytestmark = pytest.mark.fault


def directory_state(settings):
    engine = create_engine(settings.directory_db_url())
    with Session(engine) as s:
        applied = dict(s.execute(select(AppliedEvent.event_id, AppliedEvent.outcome)).all())
        rows = s.scalars(select(InvolvementRow)).all()
        involvements = {r.local_reference: (r.end_date is not None, r.practitioner_name) for r in rows}
        per_ref = Counter(r.local_reference for r in rows)
    engine.dispose()
    return applied, involvements, per_ref


def test_directory_outage_mid_stream(inprocess_adapter, fault_summary):
    dport = free_port()
    adapter = inprocess_adapter(dport)
    directory = ServerThread(directory_app(adapter.settings), dport).start()
    children = 150
    messages = stream(children, reallocations=1)
    sent = Sent()
    url = f"{adapter.url}/systems/ics/soap"
    deadline = time.monotonic() + 120
    down_at, up_at = len(messages) // 3, 2 * len(messages) // 3
    ready_while_down = None
    for i, (_, xml) in enumerate(messages):
        if i == down_at:
            directory.stop()
        if i == up_at:
            adapter.runtime.probe._at = float("-inf")  # re-probe now, not after the cache's ttl
            ready_while_down = requests.get(f"{adapter.url}/readyz", timeout=10)
            directory = ServerThread(directory_app(adapter.settings), dport).start()
        send_until_acked(url, message_id_of(xml), soap(xml), sent, deadline=deadline)
    counts = adapter.wait_settled(120)
    directory.stop()

    applied, involvements, per_ref = directory_state(adapter.settings)
    expected = {event_id_for("ics", message_id_of(xml), 0) for _, xml in messages}
    retried = sum(s.value for m in adapter.runtime.metrics.retried.collect() for s in m.samples if s.name.endswith("_total"))
    fault_summary.update(
        {
            "messages": len(messages),
            "acknowledged": len(sent.acked),
            "sent while the directory was down": up_at - down_at,
            "delivery attempts rescheduled": int(retried),
            "events delivered": len(set(applied) & expected),
            "lost": len(expected - set(applied)),
            "dead letters": counts["dead"],
        }
    )
    # the adapter kept accepting, and said so, while the directory was away
    assert len(sent.acked) == len(messages) and not sent.failures
    assert ready_while_down.status_code == 200
    report = ready_while_down.json()
    assert report["directory"]["reachable"] is False and report["outbox"]["pending"] > 0
    assert retried > 0
    assert counts == {"pending": 0, "delivered": len(expected), "dead": 0, "discarded": 0}
    assert set(applied) == expected and set(applied.values()) == {"applied"}
    assert per_ref == {case_ref(n): 1 for n in range(children)}
    assert all(closed for closed, _ in involvements.values())


def test_duplicated_and_reordered_input(inprocess_adapter, fault_summary):
    """Each message sent two or three times; each child's messages shuffled; an old update after a new one."""
    dport = free_port()
    adapter = inprocess_adapter(dport, max_attempts=30)
    directory = ServerThread(directory_app(adapter.settings), dport).start()
    url = f"{adapter.url}/systems/ics/soap"
    rng = random.Random(11)
    children = 60
    per_child = {
        n: [referral(n, 4 * n + 1), reallocation(n, 4 * n + 2, 500), reallocation(n, 4 * n + 3, 600), closure(n, 4 * n + 4)]
        for n in range(children)
    }
    sent = Sent()
    deadline = time.monotonic() + 120
    outbox = adapter.runtime.outbox

    # 1. a newer update applied first, then the older one arrives: the directory must keep the newer
    late = list(range(5))
    for n in late:
        ref, old, new, _ = per_child[n]
        for xml in (ref, new):
            send_until_acked(url, message_id_of(xml), soap(xml), sent, deadline=deadline)
        adapter.wait_settled(30)
        tracking = send_until_acked(url, message_id_of(old), soap(old), sent, deadline=deadline)
        adapter.wait_settled(30)
        assert outbox.status(tracking)["events"][0]["outcome"] == "stale"

    # 2. everything (again, for the first five) in a shuffled order, every message two or three times
    sends = []
    for n in range(children):
        order = per_child[n][:]
        rng.shuffle(order)
        for xml in order:
            sends.extend([xml] * rng.choice((2, 3)))
    rng.shuffle(sends)
    for xml in sends:
        send_until_acked(url, message_id_of(xml), soap(xml), sent, deadline=deadline)
    counts = adapter.wait_settled(120)
    directory.stop()

    applied, involvements, per_ref = directory_state(adapter.settings)
    expected = {event_id_for("ics", message_id_of(x), 0) for msgs in per_child.values() for x in msgs}
    outcomes = Counter(applied.values())
    fault_summary.update(
        {
            "messages": len(expected),
            "posts": sent.posts,
            "acked as resend": sent.duplicates,
            "stored once": counts["delivered"],
            "directory outcomes": dict(outcomes),
            "lost": len(expected - set(applied)),
            "dead letters": counts["dead"],
        }
    )
    assert counts == {"pending": 0, "delivered": len(expected), "dead": 0, "discarded": 0}, [
        (r.event_type, r.error_code, r.last_error) for r in outbox.rows("dead")
    ]
    assert sent.duplicates == sent.posts - len(expected) - sum(sent.failures.values())
    assert set(applied) == expected
    assert per_ref == {case_ref(n): 1 for n in range(children)}
    # whatever order they came in, each involvement ends closed, and its worker is the one of the
    # newest update the directory applied: an older update that arrived later never overwrote it
    for n in range(children):
        worker_of = {0: n, 1: 500, 2: 600}  # referral, older reallocation, newer reallocation
        applied_steps = [k for k in (0, 1, 2) if applied[event_id_for("ics", message_id_of(per_child[n][k]), 0)] == "applied"]
        newest = max(applied_steps)
        expected_worker = f"Worker {_letters(worker_of[newest])}"
        assert involvements[case_ref(n)] == (True, expected_worker), (n, applied_steps, involvements[case_ref(n)])
    for n in late:
        assert involvements[case_ref(n)] == (True, f"Worker {_letters(600)}")
