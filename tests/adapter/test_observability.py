"""Metrics that move, logs without personal data, health and readiness, the periodic prune."""

from __future__ import annotations

import json
import threading
import time

import requests
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from bench.delivery_messages import referral, soap
from cpbridge.settings import PROJECT_ROOT

SAMPLES = PROJECT_ROOT / "samples" / "ics" / "caseview"


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    text = requests.get(f"{url}/metrics", timeout=10).text
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: dict, name: str, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= set(lab))


def post(url: str, body: bytes) -> requests.Response:
    return requests.post(f"{url}/systems/ics/soap", data=body, headers={"Content-Type": "text/xml"}, timeout=15)


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def test_every_metric_moves(fake_stack):
    stack = fake_stack(retain_delivered_days=0)
    stack.runtime.stop()  # hold delivery so the queue can be seen
    fake = stack.fake
    fake.inject(lambda c: c.child.endswith("CV0000001"), "http503", times=1)
    fake.inject(lambda c: c.child.endswith("CV0000002"), "fault", code="ConsentRequired", times=None)
    for n in range(3):
        assert post(stack.url, soap(referral(n, n + 1))).status_code == 200
    assert post(stack.url, soap(referral(0, 1))).status_code == 200  # a resend
    assert post(stack.url, b"<not-xml").status_code == 500
    assert post(stack.url, soap((SAMPLES / "who_else_involved_by_ref.xml").read_bytes())).status_code == 200
    time.sleep(0.05)
    queued = scrape(stack.url)
    assert total(queued, "cpbridge_outbox_depth", system="ics", status="pending") == 3
    assert total(queued, "cpbridge_outbox_oldest_pending_seconds", system="ics") > 0

    stack.runtime.start()
    wait_for(lambda: stack.runtime.outbox.counts()["pending"] == 0)
    requests.get(f"{stack.url}/readyz", timeout=10)
    stack.runtime.pruner.prune_once()
    m = scrape(stack.url)
    assert total(m, "cpbridge_messages_received_total", system="ics") == 3
    assert total(m, "cpbridge_messages_duplicate_total", system="ics") == 1
    assert total(m, "cpbridge_messages_rejected_total", system="ics", code="MalformedXml") == 1
    assert total(m, "cpbridge_lookups_total", system="ics") == 1
    assert total(m, "cpbridge_events_delivered_total", system="ics", outcome="applied") == 2
    assert total(m, "cpbridge_events_retried_total", system="ics", code="Unavailable") == 1
    assert total(m, "cpbridge_events_dead_lettered_total", system="ics", code="ConsentRequired") == 1
    assert total(m, "cpbridge_delivery_latency_seconds_count", system="ics") == 2
    assert total(m, "cpbridge_outbox_depth", system="ics", status="dead") == 1
    assert total(m, "cpbridge_outbox_dead_letters", system="ics", code="ConsentRequired") == 1
    assert total(m, "cpbridge_outbox_oldest_pending_seconds", system="ics") == 0
    assert total(m, "cpbridge_outbox_pruned_total") == 2
    assert total(m, "cpbridge_directory_reachable") == 1


def test_a_url_cannot_mint_metric_labels(fake_stack):
    stack = fake_stack()
    for i in range(5):
        requests.post(f"{stack.url}/systems/made-up-{i}/soap", data=b"<x/>", timeout=10)
    m = scrape(stack.url)
    assert total(m, "cpbridge_messages_rejected_total", system="unknown", code="UnknownSystem") == 5
    assert not any("made-up" in str(lab) for _, lab in m)


def personal_values() -> set[str]:
    """Names, dates of birth, NHS numbers, postcodes, address lines and carers from the ICS samples."""
    values: set[str] = set()

    def child(c: dict) -> None:
        values.update([c.get("givenNames", ""), c.get("familyName", ""), c.get("dateOfBirth", "")])
        for a in c.get("alias", []):
            values.update([a.get("givenNames", ""), a.get("familyName", "")])
        for i in c.get("identifier", []):
            if i["scheme"] == "nhs_number":
                values.update([i["value"], f"{i['value'][:3]} {i['value'][3:6]} {i['value'][6:]}"])
        addr = c.get("address") or {}
        values.update(addr.get("line", []) + [addr.get("postcode", "")])

    for path in SAMPLES.glob("*.expected.json"):
        data = json.loads(path.read_text())
        for ev in data if isinstance(data, list) else []:
            child(ev.get("child", {}))
            for carer in ev.get("carer", []):
                values.update([carer.get("givenNames", ""), carer.get("familyName", ""), carer.get("phone", "")])
    for path in SAMPLES.glob("*.xml"):  # dates of birth as the ICS writes them
        root = etree.parse(str(path)).getroot()
        values.update(e.text for e in root.iter("{urn:caseview:ics:interop:3}DOB") if e.text)
    return {v for v in values if v and len(v) >= 4}


def test_logs_carry_tracking_ids_and_no_personal_data(fake_stack):
    stack = fake_stack()
    # one refusal whose reason quotes the child, to prove fault messages stay out of the logs
    stack.fake.inject(
        lambda c: c.operation == "EndInvolvement", "fault", code="IdentifierConflict", times=None,
        message="NHS number 401 023 2137 belongs to Kyle Brennan, born 2010-09-17",
    )
    tracking = []
    for path in sorted(SAMPLES.glob("*.xml")):
        resp = post(stack.url, soap(path.read_bytes()))
        assert resp.status_code == 200, (path.name, resp.text[:300])
        tid = etree.fromstring(resp.content).findtext(".//{urn:cpbridge:adapter:1}trackingId")
        if tid:
            tracking.append(tid)
    bad_dob = (SAMPLES / "referral_accepted.xml").read_bytes().replace(b"02/03/2015", b"31/02/2015")
    bad_dob = bad_dob.replace(b"CV-LDS-20240314-000187", b"CV-LDS-BAD-DOB")
    assert post(stack.url, soap(bad_dob)).status_code == 500
    wait_for(lambda: stack.runtime.outbox.counts()["pending"] == 0)
    assert stack.runtime.outbox.counts()["dead"] >= 1

    logs = stack.log_file.read_text()
    assert tracking and all(t in logs for t in tracking), "logs must let an operator follow each message"
    assert "dead_letter" in logs and "IdentifierConflict" in logs and "rejected" in logs
    leaked = sorted(v for v in personal_values() if v in logs)
    assert not leaked, f"personal data in the logs: {leaked}"
    for line in logs.splitlines():
        json.loads(line)  # every line is structured


def test_readiness_reports_the_directory_without_failing_on_it(fake_stack):
    stack = fake_stack()
    stack.runtime.stop()
    assert post(stack.url, soap(referral(1, 1))).status_code == 200
    ready = requests.get(f"{stack.url}/readyz", timeout=10).json()
    assert ready["status"] == "ready" and ready["directory"]["reachable"] is True
    assert ready["outbox"]["pending"] == 1 and ready["outbox"]["oldestPendingSeconds"] >= 0
    stack.directory.stop()
    stack.runtime.probe._at = float("-inf")  # forget the cached probe
    down = requests.get(f"{stack.url}/readyz", timeout=10)
    assert down.status_code == 200 and down.json()["directory"]["reachable"] is False


def test_readiness_fails_when_the_outbox_database_does_not_answer(fake_stack, monkeypatch):
    stack = fake_stack()

    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(stack.runtime.outbox, "counts", broken)
    assert requests.get(f"{stack.url}/readyz", timeout=10).status_code == 503


def test_liveness_fails_when_a_delivery_worker_died(fake_stack):
    stack = fake_stack()
    assert requests.get(f"{stack.url}/healthz", timeout=10).status_code == 200
    dead = threading.Thread(target=lambda: None)
    dead.start()
    dead.join()
    stack.runtime.workers[-1]._thread = dead
    assert requests.get(f"{stack.url}/healthz", timeout=10).status_code == 503
    stack.runtime.workers[-1]._thread = None


def test_a_running_adapter_prunes_on_its_own(fake_stack):
    stack = fake_stack(retain_delivered_days=0, prune_interval_seconds=0.2)
    assert post(stack.url, soap(referral(1, 1))).status_code == 200
    # delivered, then pruned by the adapter itself (the prune may come before we look in between)
    wait_for(lambda: sum(stack.runtime.outbox.counts().values()) == 0, timeout=15)
    assert total(scrape(stack.url), "cpbridge_events_delivered_total", system="ics") == 1
