"""The ICS plugin and the CaseView ICS mapping: samples, data minimisation, lookups, WSDL/XSD."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from cpbridge.contract import ADAPTER_XSD
from cpbridge.mapping import load_mapping
from cpbridge.model import (
    Actor,
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

from .product_helpers import case_notes, declared_types, sample_root

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "ics" / "caseview.yaml"
XSD = ROOT / "mappings" / "ics" / "caseview.xsd"
WSDL = ROOT / "mappings" / "ics" / "caseview.wsdl"
SAMPLES = ROOT / "samples" / "ics" / "caseview"
NS = "urn:caseview:ics:interop:3"
CV = f"{{{NS}}}"

INBOUND = {
    "referral_accepted.xml": ["involvement_opened", "demographics_changed"],
    "case_reallocated.xml": ["involvement_changed"],
    "lead_professional_assigned.xml": ["lead_professional_set"],
    "lead_professional_removed.xml": ["lead_professional_removed"],
    "referral_accepted_kyle.xml": ["involvement_opened"],
    "case_closed.xml": ["involvement_closed"],
}
LOOKUPS = ["who_else_involved_by_ref.xml", "who_else_involved_by_demographics.xml"]
CASE_NOTES = case_notes(SAMPLES)


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


@pytest.fixture(scope="module")
def schema():
    return etree.XMLSchema(etree.parse(str(XSD)))


def _root(name: str):
    return sample_root(SAMPLES, name)


def test_plugin_declares_ics_system_type():
    ics = declared_types("ics")
    assert len(ics) == 1
    assert ics[0].title == "Integrated Children's System (children's social care)" and ics[0].plugin == "ics"


def test_mapping_header(mapping):
    assert (mapping.id, mapping.system, mapping.product) == ("ics", "ics", "CaseView ICS")
    assert mapping.wsdl_path == WSDL.resolve()
    assert mapping.samples_dir == SAMPLES.resolve()
    assert mapping.namespaces == {"cv": NS}


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_sample_produces_exactly_the_expected_events(mapping, name):
    root = _root(name)
    message_id = mapping.message_id(root)
    assert message_id and message_id.startswith("CV-LDS-")
    events = mapping.events(root, message_id)
    assert [e.type for e in events] == INBOUND[name]
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert [json.loads(e.model_dump_json(by_alias=True, exclude_none=True)) for e in events] == expected
    for e in events:
        assert e.source_system == "ics"
        assert e.child_key.startswith("ics:CV00")


@pytest.mark.parametrize("name", sorted(INBOUND) + LOOKUPS)
def test_samples_are_valid_caseview_messages_full_of_case_data(schema, name):
    doc = etree.parse(str(SAMPLES / name))
    schema.assertValid(doc)
    text = etree.tostring(doc, encoding="unicode")
    assert any(sentence in text for sentence in CASE_NOTES), f"{name} carries no case data to drop"


def test_case_notes_list_is_grepable_sentences():
    assert len(CASE_NOTES) >= 15
    for sentence in CASE_NOTES:
        assert sentence.endswith(".") and len(sentence.split()) >= 6
        assert "&" not in sentence and "<" not in sentence  # appear verbatim in XML, JSON and logs


@pytest.mark.parametrize("name", sorted(INBOUND) + LOOKUPS)
def test_case_data_never_reaches_the_canonical_output(mapping, name):
    root = _root(name)
    if mapping.is_lookup(root):
        out = mapping.lookup_request(root).model_dump_json()
    else:
        out = json.dumps([e.model_dump(mode="json") for e in mapping.events(root, "m")])
    for sentence in CASE_NOTES:
        assert sentence not in out
        # not even a fragment of it
        assert " ".join(sentence.split()[:5]) not in out
    # coded case data is dropped too: ethnicity, legal status, category of need, closure reason
    for code in ("WBRI", "WIRI", "N2", "N4", "RC7", "3A", "2B", "CIN-EAST", "W1043"):
        assert f'"{code}"' not in out


def test_lookup_by_reference(mapping):
    req = mapping.lookup_request(_root("who_else_involved_by_ref.xml"))
    assert req.actor == Actor(
        user_id="psharma",
        name="Priya Sharma",
        organisation="Leeds City Council Children's Social Work Service",
        organisation_code="E08000035",
    )
    assert req.reason.value == "safeguarding"
    assert [(i.scheme.value, i.value, i.system) for i in req.identifiers] == [
        ("nhs_number", "9434765919", None),
        ("local", "CV0012345", "ics"),
    ]
    assert req.criteria is None


def test_lookup_by_demographics(mapping):
    req = mapping.lookup_request(_root("who_else_involved_by_demographics.xml"))
    assert req.actor.user_id == "abegum" and req.reason.value == "assessment"
    assert req.identifiers == []
    c = req.criteria
    assert (c.given_names, c.family_name, c.date_of_birth, c.gender.value, c.postcode, c.fuzzy) == (
        "Kyle", "Brennan", date(2010, 9, 17), "male", "LS9 6QL", True,
    )


@pytest.mark.parametrize("name", LOOKUPS)
def test_lookup_samples_match_expected(mapping, name):
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert mapping.lookup_request(_root(name)).wire() == expected


def _realistic_result() -> LookupResult:
    amelia = ChildRecord(
        directory_id="CP0000000018",
        given_names="Amelia Rose",
        family_name="Thompson",
        date_of_birth=date(2015, 3, 2),
        gender="female",
        address={"lines": ["14 Harehills Lane", "Harehills", "Leeds"], "postcode": "LS8 4HE"},
        carers=[Carer(given_names="Jodie", family_name="Thompson", relationship="mother", phone="07700 900123", parental_responsibility=True)],
        settings=[
            Setting(kind="school", code="107950", name="Harehills Primary School", phone="0113 496 0300", start_date=date(2019, 9, 4)),
            Setting(kind="gp_practice", code="B86030", name="Harehills Corner Surgery"),
        ],
        involvements=[
            InvolvementView(
                service="social_care",
                organisation="Leeds City Council Children's Social Work Service",
                practitioner=Practitioner(name="Tomasz Nowak", role="social_worker", team="Children in Need North East", phone="0113 496 0655", email="tomasz.nowak@leeds.gov.uk"),
                start_date=date(2024, 3, 14),
                lead_professional=True,
                source_system="ics",
            ),
            InvolvementView(
                service="early_help",
                organisation="Leeds Early Help Hub",
                practitioner=Practitioner(name="Sam Patel", role="caf_assessor"),
                start_date=date(2023, 11, 1),
                end_date=date(2024, 3, 13),
                caf_completed_on=date(2023, 11, 20),
            ),
            InvolvementView(service="unspecified", organisation="Leeds Community Healthcare", start_date=date(2024, 2, 1)),
            InvolvementView(service="health_visiting", organisation="Leeds Community Healthcare", practitioner=Practitioner(name="Grace Mensah", role="health_visitor"), start_date=date(2015, 3, 20)),
        ],
    )
    shielded = ChildRecord(
        directory_id="CP0000000026", given_names="Amelia", family_name="Thomson", date_of_birth=date(2015, 3, 2), gender="female", shielded=True
    )
    return LookupResult(matches=[SearchMatch(score=1.0, record=amelia), SearchMatch(score=0.91, record=shielded)])


def test_render_lookup_is_valid_against_caseview_xsd(mapping, schema):
    request = mapping.lookup_request(_root("who_else_involved_by_ref.xml"))
    root = mapping.render_lookup(request, _realistic_result())
    schema.assertValid(root)
    assert root.tag == f"{CV}WhoElseInvolvedResponse"
    assert root.findtext(f"{CV}RequestedBy") == "psharma" and root.findtext(f"{CV}MatchCount") == "2"
    first, second = root.findall(f"{CV}Child")
    assert first.get("score") == "1.00" and first.findtext(f"{CV}DOB") == "02/03/2015" and first.findtext(f"{CV}Gender") == "F"
    assert [s.get("type") for s in first.findall(f"{CV}Setting")] == ["SCH", "GP"]
    services = [(i.find(f"{CV}Service").get("code"), i.findtext(f"{CV}Service")) for i in first.findall(f"{CV}Involvement")]
    assert services == [
        ("CSC", "Children's social care"),
        ("EH", "Early help"),
        ("UNS", "Unspecified service"),
        ("HV", "Health visiting"),
    ]
    lead = first.find(f"{CV}Involvement")
    assert lead.findtext(f"{CV}LeadProfessional") == "Y" and lead.findtext(f"{CV}Worker/{CV}RoleCode") == "SW"
    caf = first.findall(f"{CV}Involvement")[1]
    assert caf.findtext(f"{CV}CAFCompleted") == "20/11/2023" and caf.findtext(f"{CV}Worker/{CV}RoleCode") == "CAF"
    # the shielded record shows only what a shielded record may show
    assert second.findtext(f"{CV}Shielded") == "Y"
    assert [etree.QName(e).localname for e in second] == ["DirectoryId", "Forename", "Surname", "DOB", "Gender", "Shielded"]


def test_render_empty_result_is_valid(mapping, schema):
    request = mapping.lookup_request(_root("who_else_involved_by_demographics.xml"))
    root = mapping.render_lookup(request, LookupResult())
    schema.assertValid(root)
    assert root.findtext(f"{CV}MatchCount") == "0"


def test_builtin_mapping_plugin_drives_the_ics_system(mapping):
    pm = make_plugin_manager()
    system = LocalSystem(id="ics", type="ics", product="CaseView ICS", mapping=mapping, wsdl_path=mapping.wsdl_path)
    root = _root("case_closed.xml")
    events = pm.hook.message_to_events(system=system, root=root, message_id="CV-LDS-20241105-003018")
    assert [e.type for e in events] == ["involvement_closed"]
    assert pm.hook.lookup_request(system=system, root=root) is None  # not a lookup
    request = pm.hook.lookup_request(system=system, root=_root("who_else_involved_by_ref.xml"))
    assert isinstance(request, LookupRequest)
    rendered = pm.hook.render_lookup(system=system, request=request, result=LookupResult())
    assert rendered.tag == f"{CV}WhoElseInvolvedResponse"
    bare = LocalSystem(id="x", type="ics", product="none")
    assert pm.hook.message_to_events(system=bare, root=root, message_id="m") is None


def test_every_sample_checks_clean(mapping):
    reports = mapping.check_samples()
    assert {r.sample.name for r in reports} == set(INBOUND) | set(LOOKUPS)
    assert all(r.ok and r.compared for r in reports), [r.describe() for r in reports if not r.ok]


def test_wsdl_operations_refer_to_served_schemas():
    wsdl = etree.parse(str(WSDL))
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema", "s": "http://schemas.xmlsoap.org/wsdl/soap/"}
    ops = [o.get("name") for o in wsdl.findall("w:portType/w:operation", ns)]
    assert ops == [
        "ReferralAccepted", "CaseReallocated", "LeadProfessionalAssigned", "LeadProfessionalRemoved",
        "CaseClosed", "WhoElseInvolved", "GetStatus",
    ]
    imports = {i.get("namespace"): i.get("schemaLocation") for i in wsdl.findall("w:types/xs:schema/xs:import", ns)}
    assert imports == {NS: "?xsd=caseview.xsd", "urn:cpbridge:adapter:1": "?xsd=adapter.xsd"}
    declared = set()
    for path, tns in ((XSD, NS), (ADAPTER_XSD, "urn:cpbridge:adapter:1")):
        declared |= {f"{{{tns}}}{e.get('name')}" for e in etree.parse(str(path)).getroot().findall("xs:element", ns)}
    root = wsdl.getroot()
    for part in wsdl.findall("w:message/w:part", ns):
        prefix, local = part.get("element").split(":")
        assert f"{{{root.nsmap[prefix]}}}{local}" in declared, part.get("element")
    assert len(wsdl.findall("w:binding/w:operation", ns)) == len(ops)


def test_wsdl_loads_in_a_soap_client():
    """zeep resolves ?xsd=... the way the adapter serves it (files beside the WSDL, adapter.xsd)."""
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

    client = zeep.Client("http://127.0.0.1:8600/systems/ics/soap?wsdl", transport=Served())
    service = client.wsdl.services["CaseViewIcsAdapter"].ports["CaseViewIcsPort"]
    assert set(service.binding._operations) >= {"ReferralAccepted", "WhoElseInvolved", "GetStatus"}
    out = service.binding._operations["CaseClosed"].output.body
    assert out.qname.text == "{urn:cpbridge:adapter:1}Acknowledgement"
