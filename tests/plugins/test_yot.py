"""The YOT plugin and the Keystone YJ mapping: SOAP samples, data minimisation, lookups, WSDL/XSD."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from cpbridge.contract import ADAPTER_XSD
from cpbridge.mapping import load_mapping
from cpbridge.model import (
    Carer,
    ChildRecord,
    InvolvementView,
    LookupRequest,
    LookupResult,
    Practitioner,
    SearchMatch,
    Setting,
)
from cpbridge.plugins import make_plugin_manager
from cpbridge.systems import LocalSystem
from cpbridge.xmlsafe import parse_xml

from .product_helpers import case_notes, declared_types, sample_events, sample_root

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "yot" / "keystone.yaml"
XSD = ROOT / "mappings" / "yot" / "keystone.xsd"
WSDL = ROOT / "mappings" / "yot" / "keystone.wsdl"
SAMPLES = ROOT / "samples" / "yot" / "keystone"
BATCH = SAMPLES / "batch" / "nightly_return_20240605.xml"
NS = "urn:keystone:yj:exchange:4"
KS = f"{{{NS}}}"

INBOUND = {
    "order_started.xml": ["involvement_opened"],
    "intervention_started.xml": ["involvement_opened"],
    "case_manager_changed.xml": ["involvement_changed"],
    "order_ended.xml": ["involvement_closed"],
}
LOOKUPS = ["agency_contacts_by_ref.xml", "agency_contacts_by_demographics.xml"]
CASE_NOTES = case_notes(SAMPLES)


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def _root(name: str):
    return sample_root(SAMPLES, name)


def _events(mapping, name: str) -> list[dict]:
    return sample_events(mapping, SAMPLES, name)


def test_plugin_declares_the_yot_system_type():
    yot = declared_types("yot")
    assert len(yot) == 1 and yot[0].plugin == "yot"


def test_mapping_header(mapping):
    assert (mapping.id, mapping.system, mapping.product) == ("yot", "yot", "Keystone YJ")
    assert mapping.wsdl_path == WSDL.resolve() and mapping.samples_dir == SAMPLES.resolve()


def test_every_message_type_has_a_sample(mapping):
    assert {mapping.message_type(_root(n)) for n in INBOUND} == {
        "OrderStarted", "InterventionStarted", "CaseManagerChanged", "OrderEnded",
    }


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_sample_produces_exactly_the_expected_events(mapping, name):
    root = _root(name)
    message_id = mapping.message_id(root)
    assert message_id and message_id.startswith("KYJ-BRD-")
    events = mapping.events(root, message_id)
    assert [e.type for e in events] == INBOUND[name]
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert [json.loads(e.model_dump_json(by_alias=True, exclude_none=True)) for e in events] == expected
    for e in events:
        assert e.source_system == "yot" and e.child_key.startswith("yot:KYJ-")


def test_order_registers_the_youth_offending_involvement(mapping):
    (event,) = _events(mapping, "order_started.xml")
    inv = event["involvement"]
    assert (inv["localReference"], inv["service"], inv["organisation"], inv["startDate"], inv["leadProfessional"]) == (
        "ORD-2024-0871", "youth_offending", "Bradford Youth Justice Service", "2024-06-05", True,
    )
    assert inv["practitioner"] == {
        "name": "Marcus Reid",
        "role": "case_manager",
        "team": "Bradford YJS Court Team",
        "phone": "01632 960210",
        "email": "marcus.reid@bradford.gov.uk",
    }
    # Keystone's local time is read as Europe/London (BST in June)
    assert event["occurredAt"] == "2024-06-05T16:12:09+01:00"


def test_case_manager_change_and_ending_refer_to_the_same_episode(mapping):
    (changed,) = _events(mapping, "case_manager_changed.xml")
    (ended,) = _events(mapping, "order_ended.xml")
    assert changed["involvement"]["localReference"] == ended["localReference"] == "ORD-2024-0871"
    assert changed["involvement"]["practitioner"]["name"] == "Gemma Clarke"
    assert "Marcus" not in json.dumps(changed)  # the previous case manager is not sent on
    assert ended["endDate"] == "2024-12-04"


@pytest.mark.parametrize("name", sorted(INBOUND) + LOOKUPS)
def test_samples_are_valid_keystone_messages_full_of_case_data(schema, name):
    doc = etree.parse(str(SAMPLES / name))
    schema.assertValid(doc)
    text = etree.tostring(doc, encoding="unicode")
    assert any(sentence in text for sentence in CASE_NOTES), f"{name} carries no case data to drop"


def test_case_notes_list_is_grepable_sentences():
    assert len(CASE_NOTES) >= 12
    for sentence in CASE_NOTES:
        assert sentence.endswith(".") and len(sentence.split()) >= 6
        assert "&" not in sentence and "<" not in sentence


@pytest.mark.parametrize("name", sorted(INBOUND) + LOOKUPS)
def test_case_data_never_reaches_the_canonical_output(mapping, name):
    root = _root(name)
    if mapping.is_lookup(root):
        out = mapping.lookup_request(root).model_dump_json()
    else:
        out = json.dumps([e.model_dump(mode="json") for e in mapping.events(root, "m")])
    for sentence in CASE_NOTES:
        assert sentence not in out
        assert " ".join(sentence.split()[:5]) not in out
    # offences, orders, AssetPlus ratings, victims, PNC ids, ethnicity, end reasons: never read
    for value in ("24/118832K", "TH68010", "PU86003", "YRO", "HIGH", "MEDIUM", "Ryan Doherty", "WBRI", "COMPLETED",
                  "Bradford and Keighley Youth Court", "TRIAGE"):
        assert value not in out
    if not mapping.is_lookup(root):  # staff ids identify Keystone users, not contacts
        assert "S0412" not in out and "S0388" not in out


def test_placement_addresses_of_children_in_care_are_not_sent(mapping):
    """Only a HOME address travels: a care placement's address is not the directory's to hold."""
    root = parse_xml(BATCH.read_bytes())
    leah = root[2]
    assert leah.find(f"{KS}YoungPerson/{KS}Address").get("type") == "CARE"
    (event,) = mapping.events(leah, "m")
    assert event.child.address is None and "Oakleigh" not in event.model_dump_json()


def test_lookup_by_reference(mapping):
    req = mapping.lookup_request(_root("agency_contacts_by_ref.xml"))
    assert (req.actor.user_id, req.actor.name, req.actor.organisation, req.actor.organisation_code) == (
        "S0412", "Marcus Reid", "Bradford Youth Justice Service", "YJS-BRD",
    )
    assert req.reason.value == "assessment"
    assert [(i.scheme.value, i.value) for i in req.identifiers] == [("nhs_number", "4010234180"), ("local", "KYJ-055012")]


def test_lookup_by_demographics(mapping):
    req = mapping.lookup_request(_root("agency_contacts_by_demographics.xml"))
    c = req.criteria
    assert req.reason.value == "safeguarding" and req.identifiers == []
    assert (c.given_names, c.family_name, c.date_of_birth, c.gender.value, c.postcode, c.fuzzy) == (
        "Kayden", "Mills", date(2010, 9, 30), "male", "BD8 9AW", False,
    )


@pytest.mark.parametrize("name", LOOKUPS)
def test_lookup_samples_match_expected(mapping, name):
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert mapping.lookup_request(_root(name)).wire() == expected


def _result() -> LookupResult:
    tyler = ChildRecord(
        directory_id="CP0000000596",
        given_names="Tyler Josh",
        family_name="Hartley",
        date_of_birth=date(2008, 2, 14),
        gender="male",
        address={"lines": ["Flat 3 Manor Court", "Thornton Road", "Bradford"], "postcode": "BD1 2PJ"},
        carers=[Carer(given_names="Donna", family_name="Hartley", relationship="mother", phone="07700 900822")],
        settings=[Setting(kind="school", code="107441", name="Belle Vue Boys' School", phone="01632 960300")],
        involvements=[
            InvolvementView(
                service="youth_offending",
                organisation="Bradford Youth Justice Service",
                practitioner=Practitioner(name="Marcus Reid", role="case_manager", team="Bradford YJS Court Team", phone="01632 960210"),
                start_date=date(2024, 6, 5),
                lead_professional=True,
                source_system="yot",
            ),
            InvolvementView(
                service="social_care",
                organisation="Bradford Children's Social Care",
                practitioner=Practitioner(name="Helen Shaw", role="social_worker", email="helen.shaw@bradford.gov.uk"),
                start_date=date(2023, 1, 9),
                end_date=date(2023, 10, 2),
            ),
            InvolvementView(
                service="early_help",
                organisation="Bradford Family Hubs",
                practitioner=Practitioner(name="Imran Ali", role="caf_assessor"),
                start_date=date(2022, 3, 1),
                caf_completed_on=date(2022, 3, 30),
            ),
            InvolvementView(service="unspecified", organisation="Change Grow Live Bradford", start_date=date(2024, 7, 1)),
        ],
    )
    shielded = ChildRecord(directory_id="CP0000000679", given_names="Tyler", family_name="Hartley", date_of_birth=date(2008, 2, 14), gender="male", shielded=True)
    return LookupResult(matches=[SearchMatch(score=0.992, record=tyler), SearchMatch(score=0.88, record=shielded)])


def test_render_lookup_is_valid_against_keystone_xsd(mapping, schema):
    request = mapping.lookup_request(_root("agency_contacts_by_ref.xml"))
    root = mapping.render_lookup(request, _result())
    schema.assertValid(root)
    assert root.tag == f"{KS}AgencyContactsResponse"
    assert (root.get("requestedBy"), root.get("matches")) == ("S0412", "2")
    first, second = root.findall(f"{KS}Match")
    assert first.get("confidence") == "99%" and second.get("confidence") == "88%"
    person = first.find(f"{KS}Person")
    assert (person.get("dateOfBirth"), person.get("sex"), person.get("restricted")) == ("14-Feb-2008", "MALE", "N")
    assert first.find(f"{KS}Address").get("postcode") == "BD1 2PJ"
    assert first.find(f"{KS}Parent").get("relationship") == "MOTHER"
    assert first.find(f"{KS}Setting").get("type") == "SCHOOL"
    agencies = first.findall(f"{KS}Agency")
    assert [(a.get("agency"), a.get("agencyName"), a.get("lead")) for a in agencies] == [
        ("YJS", "Youth justice service", "Y"),
        ("CSC", "Children's social care", "N"),
        ("EH", "Early help", "N"),
        ("NS", "Service not shown", "N"),
    ]
    assert agencies[0].get("since") == "05-Jun-2024" and agencies[0].get("role") == "YJW"
    assert agencies[1].get("until") == "02-Oct-2023" and agencies[2].get("cafCompleted") == "30-Mar-2022"
    assert agencies[2].get("role") == "CAF" and agencies[3].get("worker") is None
    # the shielded record: the person line and nothing else
    assert second.find(f"{KS}Person").get("restricted") == "Y"
    assert [etree.QName(e).localname for e in second] == ["Person"]


def test_render_empty_result_is_valid(mapping, schema):
    request = mapping.lookup_request(_root("agency_contacts_by_demographics.xml"))
    root = mapping.render_lookup(request, LookupResult())
    schema.assertValid(root)
    assert root.get("matches") == "0" and len(root) == 0


def test_builtin_mapping_plugin_drives_the_yot_system(mapping):
    pm = make_plugin_manager()
    system = LocalSystem(id="yot", type="yot", product="Keystone YJ", mapping=mapping, wsdl_path=mapping.wsdl_path)
    root = _root("order_ended.xml")
    events = pm.hook.message_to_events(system=system, root=root, message_id="KYJ-BRD-0001788")
    assert [e.type for e in events] == ["involvement_closed"]
    assert pm.hook.lookup_request(system=system, root=root) is None
    request = pm.hook.lookup_request(system=system, root=_root("agency_contacts_by_ref.xml"))
    assert isinstance(request, LookupRequest)
    assert pm.hook.render_lookup(system=system, request=request, result=LookupResult()).tag == f"{KS}AgencyContactsResponse"


def test_every_sample_checks_clean(mapping):
    reports = mapping.check_samples()
    assert {r.sample.name for r in reports} == set(INBOUND) | set(LOOKUPS)  # batch/ is not a single message
    assert all(r.ok and r.compared for r in reports), [r.describe() for r in reports if not r.ok]


def test_wsdl_operations_refer_to_served_schemas():
    wsdl = etree.parse(str(WSDL))
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema"}
    ops = [o.get("name") for o in wsdl.findall("w:portType/w:operation", ns)]
    assert ops == ["OrderStarted", "InterventionStarted", "CaseManagerChanged", "OrderEnded", "AgencyContacts", "GetStatus"]
    imports = {i.get("namespace"): i.get("schemaLocation") for i in wsdl.findall("w:types/xs:schema/xs:import", ns)}
    assert imports == {NS: "?xsd=keystone.xsd", "urn:cpbridge:adapter:1": "?xsd=adapter.xsd"}
    declared = set()
    for path, tns in ((XSD, NS), (ADAPTER_XSD, "urn:cpbridge:adapter:1")):
        declared |= {f"{{{tns}}}{e.get('name')}" for e in etree.parse(str(path)).getroot().findall("xs:element", ns)}
    root = wsdl.getroot()
    for part in wsdl.findall("w:message/w:part", ns):
        prefix, local = part.get("element").split(":")
        assert f"{{{root.nsmap[prefix]}}}{local}" in declared, part.get("element")


def test_wsdl_loads_in_a_soap_client():
    import zeep
    from zeep.transports import Transport

    class Served(Transport):
        def load(self, url):
            if "?xsd=" in url:
                name = url.split("?xsd=", 1)[1]
                return (ADAPTER_XSD if name == "adapter.xsd" else WSDL.parent / name).read_bytes()
            if url.endswith("?wsdl"):
                return WSDL.read_bytes()
            return super().load(url)

    client = zeep.Client("http://127.0.0.1:8600/systems/yot/soap?wsdl", transport=Served())
    ops = client.wsdl.services["KeystoneYjAdapter"].ports["KeystoneYjPort"].binding._operations
    assert set(ops) == {"OrderStarted", "InterventionStarted", "CaseManagerChanged", "OrderEnded", "AgencyContacts", "GetStatus"}
    assert ops["OrderEnded"].output.body.qname.text == "{urn:cpbridge:adapter:1}Acknowledgement"
    assert ops["AgencyContacts"].output.body.qname.text == f"{KS}AgencyContactsResponse"
