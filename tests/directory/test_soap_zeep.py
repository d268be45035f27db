"""The directory over HTTP with zeep, as the adapter's delivery client calls it."""

from __future__ import annotations

import base64
import os
from datetime import date, datetime, timedelta, timezone

import httpx
import pytest
import zeep
import zeep.exceptions
from directory_helpers import SECRET, every_event, fresh_id, new_identity, on_behalf_of, opened
from lxml import etree
from zeep.wsse.username import UsernameToken

from cpbridge import soap
from cpbridge.contract import DIRECTORY_NS, EVENT_OPERATIONS
from cpbridge.directory import app as directory_app
from cpbridge.faults import FAULT_NS
from cpbridge.xmlmodel import to_xml

SYSTEM = dict(userId="svc-ics", organisation="Leeds City Council", role="system", reason="record_update")


def send(client: zeep.Client, event, **header):
    """Send ``event`` exactly as the delivery client does: its wire dict without ``type``."""
    wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    op = EVENT_OPERATIONS[wire.pop("type")]
    return getattr(client.service, op)(**wire, _soapheaders=on_behalf_of(**(header or SYSTEM)))


def fault_of(call, *args, **kwargs) -> tuple[str, str | None, str]:
    """Call and return the fault's (code, field, faultstring); fail if no fault."""
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(*args, **kwargs)
    detail = info.value.detail
    code = detail.findtext(f".//{{{FAULT_NS}}}code")
    field = detail.findtext(f".//{{{FAULT_NS}}}field")
    return code, field, info.value.message


def test_every_operation_with_the_wire_dicts(zeep_client):
    identity = new_identity()
    results = [send(zeep_client, event) for event in every_event(identity)]
    assert [r.outcome for r in results] == ["applied"] * 8
    assert results[0].matchOutcome == "new"
    assert {r.matchOutcome for r in results[1:]} == {"matched"}
    directory_id = results[0].directoryId
    assert {r.directoryId for r in results} == {directory_id}

    record = zeep_client.service.ReadChild(directoryId=directory_id, _soapheaders=on_behalf_of())
    assert (record.givenNames, record.familyName, record.dateOfBirth) == (identity.given_names, identity.family_name, identity.date_of_birth)
    assert record.address.postcode == "LS8 3PQ"
    involvements = {i.organisation: i for i in record.involvement}
    ics = involvements["Leeds City Council"]
    assert (ics.service, ics.endDate, ics.leadProfessional, ics.cafCompletedOn) == ("social_care", date(2024, 5, 8), False, date(2024, 4, 29))
    assert ics.practitioner.email == "jo.bloggs@leeds.gov.uk"
    caf = involvements["Harehills Children's Centre"]
    assert (caf.service, caf.cafCompletedOn, caf.practitioner.name) == ("early_help", date(2024, 5, 4), "Sam Patel")
    assert [(c.givenNames, c.relationship, c.parentalResponsibility) for c in record.carer] == [("Laura", "mother", True)]
    assert [(s.kind, s.code, s.endDate) for s in record.setting] == [("school", "107942", None)]

    by_nhs = zeep_client.service.ReadChild(identifier=identity.identifiers[0].wire(), _soapheaders=on_behalf_of())
    assert by_nhs.directoryId == directory_id

    found = zeep_client.service.SearchChildren(
        criteria={"familyName": identity.family_name.upper(), "dateOfBirth": "2015-03-02", "givenNames": "amelia rose"},
        _soapheaders=on_behalf_of(),
    )
    assert [(m.score, m.record.directoryId) for m in found] == [(1.0, directory_id)]
    by_alias = zeep_client.service.SearchChildren(criteria={"familyName": "O'Brien", "dateOfBirth": "2015-03-02", "givenNames": "Millie"}, _soapheaders=on_behalf_of())
    assert directory_id in [m.record.directoryId for m in by_alias]
    by_upn = zeep_client.service.SearchChildren(identifier=[identity.identifiers[1].wire()], _soapheaders=on_behalf_of())
    assert [m.record.directoryId for m in by_upn] == [directory_id]


def test_the_same_event_twice_is_applied_once(zeep_client):
    identity = new_identity()
    event = opened(identity, "DUP-1")
    first, second = send(zeep_client, event), send(zeep_client, event)
    assert (first.outcome, second.outcome) == ("applied", "duplicate")
    assert second.directoryId == first.directoryId
    record = zeep_client.service.ReadChild(directoryId=first.directoryId, _soapheaders=on_behalf_of())
    assert len(record.involvement) == 1


def test_an_older_event_is_stale_and_changes_nothing(zeep_client):
    identity = new_identity()
    newer = opened(identity, "ST-1", day=10, organisation="Leeds City Council")
    older = opened(identity, "ST-1", day=9, organisation="Old Council Name")
    assert send(zeep_client, newer).outcome == "applied"
    result = send(zeep_client, older)
    assert result.outcome == "stale"
    record = zeep_client.service.ReadChild(directoryId=result.directoryId, _soapheaders=on_behalf_of())
    assert [i.organisation for i in record.involvement] == ["Leeds City Council"]


def test_a_client_reused_for_many_calls_gets_a_fresh_nonce_each_time(zeep_client):
    identity = new_identity()
    for ref in ("R-1", "R-2", "R-3"):
        assert send(zeep_client, opened(identity, ref)).outcome == "applied"


# --- security ----------------------------------------------------------------------------


def test_wrong_password_unknown_user_and_no_token_are_not_authenticated(served_wsdl):
    event = opened(new_identity())
    for wsse in (UsernameToken("adapter", "wrong", use_digest=True), UsernameToken("nobody", SECRET), None):
        client = zeep.Client(wsdl=served_wsdl, wsse=wsse)
        assert fault_of(send, client, event)[0] == "NotAuthenticated"


def test_plain_text_password_is_accepted(served_wsdl):
    client = zeep.Client(wsdl=served_wsdl, wsse=UsernameToken("adapter", SECRET))
    assert send(client, opened(new_identity())).outcome == "applied"


def test_a_replayed_nonce_is_refused(served_wsdl):
    token = UsernameToken("adapter", SECRET, use_digest=True, nonce=os.urandom(8).hex(), created=datetime.now(timezone.utc))
    client = zeep.Client(wsdl=served_wsdl, wsse=token)
    identity = new_identity()
    assert send(client, opened(identity, "RP-1")).outcome == "applied"
    code, _, message = fault_of(send, client, opened(identity, "RP-2"))
    assert code == "Replay" and "nonce" in message


def test_a_token_created_long_ago_is_refused(served_wsdl):
    token = UsernameToken("adapter", SECRET, use_digest=True, created=datetime.now(timezone.utc) - timedelta(hours=1))
    client = zeep.Client(wsdl=served_wsdl, wsse=token)
    assert fault_of(send, client, opened(new_identity()))[0] == "Replay"


def test_the_on_behalf_of_header_is_required(zeep_client):
    code, field, _ = fault_of(zeep_client.service.ReadChild, directoryId="CP0000000018")
    assert (code, field) == ("InvalidRequest", "onBehalfOf")


def test_an_invalid_on_behalf_of_header_names_its_field(zeep_client):
    code, field, message = fault_of(
        zeep_client.service.ReadChild, directoryId="CP0000000018", _soapheaders=on_behalf_of(reason="curiosity")
    )
    assert (code, field) == ("InvalidRequest", "onBehalfOf.reason")
    assert "line" in message


def test_an_account_may_act_only_for_its_organisations(served_wsdl):
    client = zeep.Client(wsdl=served_wsdl, wsse=UsernameToken("restricted", "restricted-secret", use_digest=True))
    code, field, _ = fault_of(client.service.ReadChild, directoryId="CP0000000018", _soapheaders=on_behalf_of())
    assert (code, field) == ("NotAuthorised", "onBehalfOf.organisation")


# --- directory rules over SOAP --------------------------------------------------------------


def test_rule_faults_reach_the_client(zeep_client):
    identity = new_identity()
    closed = every_event(identity)[-1]
    assert fault_of(send, zeep_client, closed)[:2] == ("NoSuchInvolvement", "localReference")
    assert fault_of(zeep_client.service.ReadChild, directoryId="CP0000000018", _soapheaders=on_behalf_of())[0] == "NoSuchChild"
    assert fault_of(
        zeep_client.service.SearchChildren, criteria={"familyName": "Smith"}, _soapheaders=on_behalf_of()
    )[:2] == ("SearchTooBroad", "criteria.dateOfBirth")
    sensitive = opened(identity, "SH-1", service="sexual_health", organisation="Leeds Sexual Health")
    assert fault_of(send, zeep_client, sensitive)[:2] == ("ConsentRequired", "involvement.consent")


# --- raw HTTP: malformed and hostile requests -------------------------------------------------


def raw_envelope(body: etree._Element | str, *, header: bool = True) -> bytes:
    """A SOAP envelope with a PasswordText token and (optionally) the onBehalfOf header."""
    created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    nonce = base64.b64encode(os.urandom(16)).decode()
    obo = (
        '<d:onBehalfOf><d:userId>jbloggs</d:userId><d:organisation>Leeds City Council</d:organisation>'
        "<d:reason>direct_work</d:reason></d:onBehalfOf>"
        if header
        else ""
    )
    body_text = body if isinstance(body, str) else etree.tostring(body, pretty_print=True).decode()
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<s:Envelope xmlns:s="{soap.SOAP_NS}" xmlns:d="{DIRECTORY_NS}" xmlns:wsse="{soap.WSSE_NS}" xmlns:wsu="{soap.WSU_NS}">\n'
        f"<s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>adapter</wsse:Username>"
        f'<wsse:Password Type="{soap.PASSWORD_TEXT}">{SECRET}</wsse:Password><wsse:Nonce>{nonce}</wsse:Nonce>'
        f"<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>{obo}</s:Header>\n"
        f"<s:Body>\n{body_text}</s:Body></s:Envelope>"
    ).encode()


def post(url: str, data: bytes) -> tuple[int, str, str | None, str]:
    resp = httpx.post(url, content=data, headers={"Content-Type": soap.CONTENT_TYPE})
    root = etree.fromstring(resp.content)
    code = root.findtext(f".//{{{FAULT_NS}}}code")
    field = root.findtext(f".//{{{FAULT_NS}}}field")
    return resp.status_code, code, field, root.findtext(".//faultstring") or ""


def test_a_body_failing_the_schema_names_the_element_and_line(soap_url):
    body = to_xml(opened(new_identity()), "RegisterInvolvement", DIRECTORY_NS)
    body.find(f"{{{DIRECTORY_NS}}}child/{{{DIRECTORY_NS}}}dateOfBirth").text = "02/03/2015"
    data = raw_envelope(body)
    line = next(n for n, text in enumerate(data.decode().splitlines(), 1) if "02/03/2015" in text)
    status, code, field, message = post(soap_url, data)
    assert (status, code, field) == (500, "InvalidRequest", "child.dateOfBirth")
    assert f"child.dateOfBirth (line {line})" in message
    assert "02/03/2015" not in message  # values (personal data) are not echoed


def test_a_missing_required_element_is_named(soap_url):
    body = to_xml(opened(new_identity()), "RegisterInvolvement", DIRECTORY_NS)
    inv = body.find(f"{{{DIRECTORY_NS}}}involvement")
    inv.remove(inv.find(f"{{{DIRECTORY_NS}}}service"))
    status, code, field, message = post(soap_url, raw_envelope(body))
    assert (code, field) == ("InvalidRequest", "involvement.organisation")
    assert "service" in message


def test_a_value_the_model_refuses_is_named(soap_url):
    body = to_xml(opened(new_identity()), "RegisterInvolvement", DIRECTORY_NS)
    body.find(f"{{{DIRECTORY_NS}}}child/{{{DIRECTORY_NS}}}identifier/{{{DIRECTORY_NS}}}value").text = "9434765918"
    status, code, field, message = post(soap_url, raw_envelope(body))
    assert (status, code) == (500, "InvalidRequest")
    assert field.startswith("child.identifier") and "modulus-11" in message


@pytest.mark.parametrize(
    "data, expected",
    [
        (b"<not-closed", "MalformedXml"),
        (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "DtdForbidden"),
        (b"<x:Envelope xmlns:x='http://www.w3.org/2003/05/soap-envelope'><x:Body><a/></x:Body></x:Envelope>", "VersionMismatch"),
        (b"x" * (65 * 1024), "MessageTooLarge"),
    ],
)
def test_hostile_or_broken_documents_are_refused(soap_url, data, expected):
    status, code, _, _ = post(soap_url, data)
    assert (status, code) == (500, expected)


def test_an_unknown_operation_is_refused(soap_url):
    status, code, _, _ = post(soap_url, raw_envelope(f'<d:DeleteChild xmlns:d="{DIRECTORY_NS}"/>'))
    assert code == "UnknownOperation"


def test_an_unexpected_error_is_internal_and_leaks_nothing(zeep_client, monkeypatch, caplog):
    personal = "Amelia Smith born 2015-03-02 lives at 14 Beech Grove"

    def explode(session, caller, request):
        raise RuntimeError(personal)

    op = directory_app.OPERATIONS["ReadChild"]
    monkeypatch.setitem(directory_app.OPERATIONS, "ReadChild", directory_app.Operation(op.model, explode))
    code, _, message = fault_of(zeep_client.service.ReadChild, directoryId="CP0000000018", _soapheaders=on_behalf_of())
    assert code == "InternalError"
    assert "Amelia" not in message and "Amelia" not in caplog.text
    assert "RuntimeError" in caplog.text


# --- WSDL, XSD and health ---------------------------------------------------------------------


def test_the_served_wsdl_points_at_where_it_was_fetched(directory_server):
    url = f"{directory_server}/directory/soap"
    wsdl = etree.fromstring(httpx.get(f"{url}?wsdl").content)
    address = wsdl.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == url
    include = wsdl.find(".//{http://www.w3.org/2001/XMLSchema}include")
    xsd = httpx.get(include.get("schemaLocation"))
    assert xsd.status_code == 200 and b'targetNamespace="urn:cpbridge:directory:1"' in xsd.content


def test_health_and_readiness(directory_server):
    assert httpx.get(f"{directory_server}/directory/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{directory_server}/directory/readyz")
    assert ready.status_code == 200 and ready.json()["database"] == "up"


def test_packaged_wsdl_with_overridden_address_reaches_the_service(soap_url):
    """How the adapter's delivery client connects: the packaged WSDL, the address overridden."""
    from cpbridge.contract import DIRECTORY_WSDL

    client = zeep.Client(str(DIRECTORY_WSDL), wsse=UsernameToken("adapter", SECRET, use_digest=True))
    service = client.create_service("{urn:cpbridge:directory:1}DirectoryBinding", soap_url)
    event = opened(new_identity(), "PK-1")
    wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    wire.pop("type")
    assert service.RegisterInvolvement(**wire, _soapheaders=on_behalf_of(**SYSTEM)).outcome == "applied"


def test_event_ids_are_remembered_across_operations(zeep_client):
    """An event id is answered once, whatever operation carries it again."""
    identity = new_identity()
    first = opened(identity, "ID-1")
    send(zeep_client, first)
    again = every_event(identity)[2].model_copy(update={"event_id": first.event_id, "local_reference": "ID-1"})
    assert send(zeep_client, again).outcome == "duplicate"
    assert fresh_id() != first.event_id
