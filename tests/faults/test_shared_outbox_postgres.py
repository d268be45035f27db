"""Three adapter processes share one PostgreSQL outbox: thousands of events over hundreds of children.

The directory (a :class:`FakeDirectory` with a small random delay, so calls
overlap) records, per child, every moment two different events were in flight
and the order events arrived in. One process is killed with SIGKILL midway;
its leases run out and the others take its rows over.

Holds: no child ever has two events in flight; each child's events arrive in
the order they occurred; every event is applied once; every process delivered.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.delivery_directory import FakeDirectory
from cpbridge.adapter.outbox import Outbox
from cpbridge.model import (
    InvolvementChanged,
    InvolvementClosed,
    InvolvementOpened,
    event_id_for,
)
from cpbridge.testing import ServerThread, free_port

pytestmark = [pytest.mark.fault, pytest.mark.postgres]

CHILDREN = 200
EVENTS_PER_CHILD = 10  # open, 8 changes, close: 2,000 events
PROCESSES = 3
LEASE = 7.0  # > one call with its quick retries (3 x (1 s timeout + 1 s)): no renewal needed per row
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def child_events(n: int) -> list:
    child = {
        "givenNames": "Child",
        "familyName": f"Test{n}".replace("0", "O").replace("1", "I").replace("2", "Z").replace("3", "E")
        .replace("4", "A").replace("5", "S").replace("6", "G").replace("7", "T").replace("8", "B").replace("9", "P"),
        "dateOfBirth": "2015-01-01",
        "identifier": [{"scheme": "local", "value": f"CV{n:07d}", "system": "ics"}],
    }
    inv = {"localReference": f"CSC-{n:07d}", "service": "social_care", "organisation": "Leeds CSC", "startDate": "2025-03-01"}
    out = []
    for k in range(EVENTS_PER_CHILD):
        common = dict(event_id=event_id_for("ics", f"m-{n}-{k}", 0), source_system="ics", occurred_at=T0 + timedelta(minutes=k), child=child)
        if k == 0:
            out.append(InvolvementOpened(**common, involvement=inv))
        elif k == EVENTS_PER_CHILD - 1:
            out.append(InvolvementClosed(**common, local_reference=inv["localReference"], end_date="2025-04-01"))
        else:
            out.append(InvolvementChanged(**common, involvement=dict(inv, practitioner={"name": f"Worker {chr(64 + k)}"})))
    return out


def test_three_processes_keep_every_childs_order(pg_url, fault_summary):
    fake = FakeDirectory(delay=(0.0, 0.004))
    dport = free_port()
    directory = ServerThread(fake.app, dport).start()
    outbox = Outbox(pg_url, lease_seconds=LEASE)
    events = {n: child_events(n) for n in range(CHILDREN)}
    half = EVENTS_PER_CHILD // 2

    def accept(ks: range) -> None:
        for k in ks:  # children interleaved, each child's events in the order they occurred
            for n in range(CHILDREN):
                outbox.accept("ics", f"m-{n}-{k}", "bench", [events[n][k]])

    accept(range(half))
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    script = Path(__file__).with_name("worker_process.py")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), pg_url, f"http://127.0.0.1:{dport}/directory/soap", str(LEASE)],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
        )
        for _ in range(PROCESSES)
    ]
    try:
        for p in procs:
            assert p.stdout.readline().strip() == "ready"
        feeder = threading.Thread(target=accept, args=(range(half, EVENTS_PER_CHILD),))
        feeder.start()  # the second half arrives while the workers deliver the first
        deadline = time.monotonic() + 60
        while fake.applied_count() < CHILDREN * 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(procs[0].pid, signal.SIGKILL)  # dies holding leases, maybe mid-call
        feeder.join()
        results = []
        for p in procs[1:]:
            out, _ = p.communicate(timeout=120)
            results.append(json.loads(out.strip().splitlines()[-1])["delivered"])
        procs[0].wait(5)
        counts = outbox.counts()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        directory.stop()
        outbox.close()

    expected = {e.event_id for evs in events.values() for e in evs}
    fault_summary.update(
        {
            "processes": PROCESSES,
            "killed": 1,
            "children": CHILDREN,
            "events": len(expected),
            "delivered by survivors": results,
            "resent to directory (answered duplicate)": fake.resent(),
            "children with two events in flight": len(set(fake.overlaps)),
            "children out of order": len(fake.out_of_order()),
            "lost": len(expected - set(fake.applied)),
        }
    )
    assert counts == {"pending": 0, "delivered": len(expected), "dead": 0, "discarded": 0}
    assert set(fake.applied) == expected
    assert set(fake.applied.values()) == {"applied"}, "an event arrived after a newer one of its involvement (stale)"
    assert not fake.overlaps, f"two events of one child were in flight at once: {sorted(set(fake.overlaps))[:5]}"
    assert not fake.out_of_order()
    assert all(len(fake.order[f"ics:CV{n:07d}"]) == EVENTS_PER_CHILD for n in range(CHILDREN))
    assert all(r > 0 for r in results), "a surviving process delivered nothing: the outbox was not shared"
    assert all(not inv.open and inv.worker == f"Worker {chr(64 + EVENTS_PER_CHILD - 2)}" for inv in fake.involvements.values())
