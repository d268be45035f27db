"""The spine end to end: an ICS sends its messages by SOAP, the directory holds the involvements,
a lookup through the ICS endpoint returns them in the ICS's own XML, and no case note travels."""

from __future__ import annotations

import zeep
from lxml import etree

from cpbridge.settings import PROJECT_ROOT as ROOT

SAMPLES = ROOT / "samples" / "ics" / "caseview"
INBOUND = [
    "referral_accepted",
    "case_reallocated",
    "lead_professional_assigned",
    "lead_professional_removed",
    "referral_accepted_kyle",
    "case_closed",
]
CV = "urn:caseview:ics:interop:3"


def sample(name: str) -> etree._Element:
    return etree.parse(str(SAMPLES / f"{name}.xml")).getroot()


def zeep_send(client: zeep.Client, root: etree._Element):
    """Send a sample as an ordinary zeep client would: build the typed request, call the operation."""
    element = client.get_element(root.tag)
    value = element.parse(root, client.wsdl.types)
    op = etree.QName(root).localname
    with client.settings(raw_response=True):
        return getattr(client.service, op)(**value.__values__)


def test_every_ics_sample_reaches_the_directory_and_comes_back_in_ics_xml(stack_factory):
    stack = stack_factory()
    client = zeep.Client(f"{stack.adapter.url}/systems/ics/soap?wsdl")
    tracking = []
    for name in INBOUND:
        resp = zeep_send(client, sample(name))
        assert resp.status_code == 200, resp.text
        ack = etree.fromstring(resp.content)
        tracking.append(ack.findtext(".//{urn:cpbridge:adapter:1}trackingId"))
    assert all(tracking)
    counts = stack.wait_delivered()
    assert counts["dead"] == 0, [(r.event_type, r.error_code, r.last_error) for r in stack.runtime.outbox.rows("dead")]

    # every message's outcome is available to the ICS by its tracking id
    for tid in tracking:
        assert stack.runtime.outbox.status(tid)["status"] == "delivered"

    # a lookup through the ICS endpoint, by the ICS's own reference, in the ICS's own XML
    resp = zeep_send(client, sample("who_else_involved_by_ref"))
    assert resp.status_code == 200, resp.text
    body = etree.fromstring(resp.content).find("{http://schemas.xmlsoap.org/soap/envelope/}Body")[0]
    assert etree.QName(body).namespace == CV
    text = etree.tostring(body, encoding="unicode")
    expected = [json_practitioner for json_practitioner in practitioners_in_samples()]
    assert any(name in text for name in expected), text

    # no case note, referral reason or assessment sentence is anywhere but the local system
    notes = [line.strip() for line in (SAMPLES / "CASE_NOTES.txt").read_text().splitlines() if line.strip()]
    stored = b"".join(p.read_bytes() for p in stack.data_dir.iterdir() if p.is_file())
    logs = stack.log_file.read_bytes()
    assert b"ics" in logs and any(n.encode() in stored for n in expected_names_bytes())  # the greps can see data
    for sentence in notes:
        assert sentence.encode() not in stored, f"case note leaked into storage: {sentence}"
        assert sentence.encode() not in logs, f"case note leaked into logs: {sentence}"


def practitioners_in_samples() -> list[str]:
    import json

    names = []
    for name in INBOUND:
        data = json.loads((SAMPLES / f"{name}.expected.json").read_text())
        for ev in data if isinstance(data, list) else data["events"]:
            p = (ev.get("involvement") or {}).get("practitioner") or ev.get("practitioner") or {}
            if p.get("name"):
                names.append(p["name"])
    return names


def expected_names_bytes() -> list[str]:
    return practitioners_in_samples()


def test_the_same_message_twice_gives_one_involvement(stack_factory):
    stack = stack_factory()
    client = zeep.Client(f"{stack.adapter.url}/systems/ics/soap?wsdl")
    first = etree.fromstring(zeep_send(client, sample("referral_accepted")).content)
    again = etree.fromstring(zeep_send(client, sample("referral_accepted")).content)
    a = "{urn:cpbridge:adapter:1}"
    assert first.findtext(f".//{a}trackingId") == again.findtext(f".//{a}trackingId")
    assert again.findtext(f".//{a}duplicate") == "true"
    stack.wait_delivered()
    resp = zeep_send(client, sample("who_else_involved_by_ref"))
    body = etree.fromstring(resp.content)
    services = body.xpath("//*[local-name()='Involvement' or local-name()='Agency' or local-name()='Service']")
    assert services, etree.tostring(body)
    from sqlalchemy import create_engine, text

    engine = create_engine(stack.settings.directory_db_url())
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from involvements")).scalar() == 1
        assert conn.execute(text("select count(*) from children")).scalar() == 1


def test_messages_sent_while_the_directory_is_down_are_delivered_when_it_returns(stack_factory):
    stack = stack_factory(with_directory=False)
    client = zeep.Client(f"{stack.adapter.url}/systems/ics/soap?wsdl")
    for name in INBOUND:
        assert zeep_send(client, sample(name)).status_code == 200
    import time

    time.sleep(0.5)
    assert stack.runtime.outbox.counts()["pending"] == len(practitioners_or_events())
    stack.start_directory()
    counts = stack.wait_delivered(60)
    assert counts["dead"] == 0 and counts["delivered"] == len(practitioners_or_events())


def practitioners_or_events() -> list:
    import json

    events = []
    for name in INBOUND:
        data = json.loads((SAMPLES / f"{name}.expected.json").read_text())
        events.extend(data if isinstance(data, list) else data["events"])
    return events
