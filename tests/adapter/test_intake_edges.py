"""Edge cases found in review: ids without a message id, odd credentials, implausible times, poison files."""

from __future__ import annotations

import base64

import requests
from lxml import etree

from cpbridge.adapter.intake import content_id
from cpbridge.settings import PROJECT_ROOT, SystemConfig

SAMPLE = PROJECT_ROOT / "samples" / "ics" / "caseview" / "case_closed.xml"
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"


def test_a_message_without_an_id_digests_the_same_bare_or_in_any_envelope():
    bare = etree.parse(str(SAMPLE)).getroot()
    wrapped = etree.fromstring(
        f'<soap:Envelope xmlns:soap="{SOAP_NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soap:Body/></soap:Envelope>'
    )
    wrapped[0].append(etree.fromstring(etree.tostring(bare)))
    assert content_id(wrapped[0][0]) == content_id(bare)


def test_non_ascii_credentials_are_refused_not_a_server_error(fake_stack):
    stack = fake_stack(systems={"ics": SystemConfig(username="caseview", secret="s3cret")})
    auth = "Basic " + base64.b64encode("é:s".encode()).decode()
    r = requests.post(
        f"{stack.url}/systems/ics/messages", data=SAMPLE.read_bytes(), headers={"Authorization": auth}, timeout=10
    )
    assert r.status_code == 401 and b"NotAuthenticated" in r.content


def test_an_implausible_occurrence_time_is_refused_naming_the_field(fake_stack):
    stack = fake_stack()
    for when in (b"0001-01-01T00:00:00+14:00", b"2204-06-03T09:15:00"):
        body = SAMPLE.read_bytes().replace(b"2024-11-05T11:30:00", when)
        r = requests.post(f"{stack.url}/systems/ics/messages", data=body, timeout=10)
        assert r.status_code == 400 and b"InvalidRequest" in r.content and b"occurredAt" in r.content, r.text
    assert stack.runtime.outbox.counts()["pending"] == 0


def test_a_messages_status_is_for_its_own_system_and_behind_its_credentials(fake_stack):
    stack = fake_stack(systems={"ics": SystemConfig(username="caseview", secret="s3cret")})
    auth = {"Authorization": "Basic " + base64.b64encode(b"caseview:s3cret").decode()}
    ack = requests.post(f"{stack.url}/systems/ics/messages", data=SAMPLE.read_bytes(), headers=auth, timeout=10)
    tracking = etree.fromstring(ack.content).findtext("{urn:cpbridge:adapter:1}trackingId")
    assert requests.get(f"{stack.url}/systems/ics/messages/{tracking}", headers=auth, timeout=10).status_code == 200
    assert requests.get(f"{stack.url}/systems/ics/messages/{tracking}", timeout=10).status_code == 401
    assert requests.get(f"{stack.url}/systems/nowhere/messages/{tracking}", timeout=10).status_code == 404
    assert requests.get(f"{stack.url}/systems/ics/messages/abc%00def", headers=auth, timeout=10).status_code == 404
