"""kill -9 the adapter again and again while a client streams thousands of messages at it.

The client resends each message until it is acknowledged (as a local system's
interface engine does). The adapter is a real ``cpbridge adapter serve``
process with its own SQLite outbox, killed with SIGKILL at random moments —
mid-intake, mid-commit, mid-delivery — and restarted each time. The reference
directory runs in this process behind a counter of what it was sent.

At the end: every acknowledged message is applied at the directory, once;
each referral is one involvement; each child's events were applied in the
order they were produced (no ``stale`` outcome); nothing is lost or parked.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from bench.delivery_directory import CountingMiddleware
from bench.delivery_messages import case_ref, soap, stream
from cpbridge.adapter.outbox import Outbox
from cpbridge.directory.app import create_app as directory_app
from cpbridge.directory.tables import AppliedEvent, InvolvementRow
from cpbridge.model import event_id_for
from cpbridge.testing import ServerThread, free_port

from .conftest import AdapterProcess, Sent, adapter_settings, send_until_acked

pytestmark = pytest.mark.fault

CHILDREN = 600  # x3 messages (referral, reallocation, closure) = 1,800 messages and events
KILLS = 10
CLIENT_THREADS = 4


def message_id_of(xml: bytes) -> str:
    return xml.split(b"<cv:MessageId>", 1)[1].split(b"</cv:MessageId>", 1)[0].decode()


def test_kill_minus_nine_loses_and_doubles_nothing(project, tmp_path, fault_summary):
    dport = free_port()
    settings = adapter_settings(project, tmp_path / "data", dport)
    counting = CountingMiddleware(directory_app(settings))
    directory = ServerThread(counting, dport).start()
    adapter = AdapterProcess(settings, tmp_path).start()
    messages = stream(CHILDREN, reallocations=1)
    lanes: list[list[tuple[int, bytes]]] = [[] for _ in range(CLIENT_THREADS)]
    for n, xml in messages:
        lanes[n % CLIENT_THREADS].append((n, xml))  # one child's messages stay in one lane, in order
    sent = Sent()
    url = f"{adapter.url}/systems/ics/soap"
    deadline = time.monotonic() + 240

    def client(lane):
        for _, xml in lane:
            send_until_acked(url, message_id_of(xml), soap(xml), sent, deadline=deadline)

    threads = [threading.Thread(target=client, args=(lane,)) for lane in lanes]
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        rng = random.Random(20260301)
        while adapter.kills < KILLS and any(t.is_alive() for t in threads):
            time.sleep(rng.uniform(0.3, 1.5))
            adapter.kill()
            time.sleep(rng.uniform(0.0, 0.3))
            adapter.start()
        for t in threads:
            t.join()
        streamed = time.monotonic() - started
        assert adapter.kills == KILLS, "the stream ended before every kill happened; send more messages"

        expected = {event_id_for("ics", message_id_of(xml), 0) for _, xml in messages}
        engine = create_engine(settings.directory_db_url())
        wait_until = time.monotonic() + 180
        while time.monotonic() < wait_until:
            with Session(engine) as s:
                if s.scalar(select(func.count()).select_from(AppliedEvent)) >= len(expected):
                    break
            time.sleep(0.25)

        with Session(engine) as s:
            applied = Counter(s.scalars(select(AppliedEvent.event_id)).all())
            outcomes = Counter(s.scalars(select(AppliedEvent.outcome)).all())
            involvements = Counter(s.scalars(select(InvolvementRow.local_reference)).all())
            open_left = s.scalar(select(func.count()).select_from(InvolvementRow).where(InvolvementRow.end_date.is_(None)))
        outbox = Outbox(settings.outbox_db_url())
        counts = outbox.counts()
        dead = Counter(r.error_code for r in outbox.rows("dead", limit=10_000))
        outbox.close()
    finally:
        adapter.stop()
        directory.stop()

    lost = expected - set(applied)
    twice = [e for e, n in applied.items() if n > 1]
    resent = sum(1 for e in expected if counting.received[e] > 1)
    fault_summary.update(
        {
            "kills": adapter.kills,
            "seconds (stream/total)": f"{streamed:.0f}/{time.monotonic() - started:.0f}",
            "messages": len(messages),
            "posts": sent.posts,
            "acknowledged": len(sent.acked),
            "acked as resend": sent.duplicates,
            "events delivered": len(set(applied) & expected),
            "resent to directory (answered duplicate)": resent,
            "applied twice": len(twice),
            "lost": len(lost),
            "dead letters": dict(dead) or 0,
        }
    )
    assert len(sent.acked) == len(messages)
    assert not lost, f"{len(lost)} acknowledged events never reached the directory"
    assert not twice
    assert set(applied) == expected, "the directory applied events nobody sent"
    assert outcomes == {"applied": len(expected)}, f"an event was applied out of order (stale) or refused: {outcomes}"
    assert involvements == {case_ref(n): 1 for n in range(CHILDREN)}, "a referral became more or fewer than one involvement"
    assert open_left == 0, "a closure was lost or applied before its referral"
    assert counts == {"pending": 0, "delivered": len(expected), "dead": 0, "discarded": 0}
