"""The eCAF plugin and the Lantern eCAF mapping: samples, data minimisation, lookups, WSDL/XSD."""

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

from .product_helpers import case_notes, declared_types, sample_events, sample_root

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "ecaf" / "lantern.yaml"
XSD = ROOT / "mappings" / "ecaf" / "lantern.xsd"
WSDL = ROOT / "mappings" / "ecaf" / "lantern.wsdl"
SAMPLES = ROOT / "samples" / "ecaf" / "lantern"
NS = "urn:lantern:ecaf:notify:2"
LT = f"{{{NS}}}"

INBOUND = {
    "assessment_started.xml": ["involvement_opened"],
    "assessment_completed.xml": ["assessment_completed"],
    "assessment_updated.xml": ["assessment_completed"],
    "assessment_updated_in_progress.xml": ["involvement_changed"],
    "assessment_closed.xml": ["involvement_closed"],
    "lead_professional_nominated.xml": ["involvement_changed", "lead_professional_set"],
    "lead_professional_changed.xml": ["involvement_changed", "lead_professional_set"],
    "tac_member_joined.xml": ["involvement_opened"],
    "tac_member_joined_camhs.xml": ["involvement_opened"],
    "tac_member_left.xml": ["involvement_closed"],
}
REFUSED = {"tac_member_joined_unknown_agency.xml": "UnmappedCode"}
LOOKUPS = ["involvement_enquiry_by_ref.xml", "involvement_enquiry_by_demographics.xml"]
CASE_NOTES = case_notes(SAMPLES)
ASSESSOR = {
    "name": "Sarah Hughes",
    "role": "caf_assessor",
    "team": "Pastoral Team",
    "phone": "01632 960143",
    "email": "sarah.hughes@lister.bradford.sch.uk",
}


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


def test_plugin_declares_the_ecaf_system_type():
    ecaf = declared_types("ecaf")
    assert len(ecaf) == 1 and ecaf[0].plugin == "ecaf"


def test_mapping_header(mapping):
    assert (mapping.id, mapping.system, mapping.product) == ("ecaf", "ecaf", "Lantern eCAF")
    assert mapping.wsdl_path == WSDL.resolve()
    assert mapping.samples_dir == SAMPLES.resolve()
    assert mapping.namespaces == {"lt": NS}


def test_every_message_type_has_a_sample(mapping):
    names = {mapping.message_type(_root(n)) for n in INBOUND}
    assert names == {
        "AssessmentStarted", "AssessmentCompleted", "AssessmentUpdated", "AssessmentClosed",
        "LeadProfessionalNominated", "LeadProfessionalChanged", "TacMemberJoined", "TacMemberLeft",
    }


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_sample_produces_exactly_the_expected_events(mapping, name):
    root = _root(name)
    message_id = mapping.message_id(root)
    assert message_id and message_id.startswith("LT-BRD-")
    events = mapping.events(root, message_id)
    assert [e.type for e in events] == INBOUND[name]
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert [json.loads(e.model_dump_json(by_alias=True, exclude_none=True)) for e in events] == expected
    for e in events:
        assert e.source_system == "ecaf" and e.child_key == "ecaf:LT-P-100245"


@pytest.mark.parametrize("name,code", sorted(REFUSED.items()))
def test_unknown_agency_is_refused_not_guessed(mapping, name, code):
    from cpbridge import Fault

    with pytest.raises(Fault) as exc:
        mapping.events(_root(name), "m")
    assert exc.value.code == code and exc.value.field == "involvement.service"
    assert "'DWP'" in exc.value.message and "agency" in exc.value.message
    assert json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text()) == {"fault": code}


def test_started_opens_early_help_for_the_assessors_organisation(mapping):
    (event,) = _events(mapping, "assessment_started.xml")
    inv = event["involvement"]
    assert (inv["localReference"], inv["service"], inv["organisation"]) == (
        "CAF-BRD-2024-0193", "early_help", "Lister Primary School",
    )
    assert inv["practitioner"] == ASSESSOR and inv["startDate"] == "2024-04-29"


@pytest.mark.parametrize("name", ["assessment_completed.xml", "assessment_updated.xml"])
def test_completion_is_the_caf_flag_with_the_assessors_contact(mapping, name):
    (event,) = _events(mapping, name)
    assert event["type"] == "assessment_completed"
    assert event["localReference"] == "CAF-BRD-2024-0193" and event["completedOn"] == "2024-05-20"
    assert event["organisation"] == "Lister Primary School" and event["assessor"] == ASSESSOR


def test_update_before_completion_only_refreshes_the_assessors_contact(mapping):
    (event,) = _events(mapping, "assessment_updated_in_progress.xml")
    assert event["type"] == "involvement_changed"
    assert "cafCompletedOn" not in event["involvement"] and event["involvement"]["practitioner"] == ASSESSOR


def test_lead_professional_is_the_tac_members_involvement(mapping):
    changed, lead = _events(mapping, "lead_professional_changed.xml")
    assert changed["involvement"]["localReference"] == lead["localReference"] == "TAC-0193-03"
    assert changed["involvement"]["leadProfessional"] is True
    assert changed["involvement"]["service"] == "school_nursing"
    assert lead["practitioner"]["name"] == "Joanne Pickles" and lead["practitioner"]["role"] == "school_nurse"
    # the previous lead (Imran Ali) is cleared by the directory's one-lead rule, not named here
    assert "Imran" not in json.dumps([changed, lead])


def test_tac_membership_opens_and_closes_the_members_service(mapping):
    (joined,) = _events(mapping, "tac_member_joined.xml")
    (left,) = _events(mapping, "tac_member_left.xml")
    assert joined["involvement"]["localReference"] == "TAC-0193-03"
    assert joined["involvement"]["organisation"] == "Bradford District Care NHS Foundation Trust"
    assert (left["localReference"], left["endDate"]) == ("TAC-0193-02", "2024-09-13")


def test_sensitive_service_carries_its_consent(mapping):
    (event,) = _events(mapping, "tac_member_joined_camhs.xml")
    inv = event["involvement"]
    assert inv["service"] == "mental_health"
    assert inv["consent"] == {"givenBy": "parent_carer", "recordedOn": "2024-06-03"}
    (plain,) = _events(mapping, "tac_member_joined.xml")
    assert "consent" not in plain["involvement"]


@pytest.mark.parametrize("name", sorted(INBOUND) + sorted(REFUSED) + LOOKUPS)
def test_samples_are_valid_lantern_messages_full_of_case_data(schema, name):
    doc = etree.parse(str(SAMPLES / name))
    schema.assertValid(doc)
    text = etree.tostring(doc, encoding="unicode")
    assert any(sentence in text for sentence in CASE_NOTES), f"{name} carries no case data to drop"


def test_every_inbound_sample_carries_the_whole_assessment():
    for name in sorted(INBOUND):
        content = _root(name).find(f"{LT}Assessment/{LT}Content")
        assert content is not None and len(content.findall(f"{LT}Needs/{LT}Need")) == 3, name
        for part in ("Strengths", "FamilyHistory", "ParentsViews", "ChildsViews", "Actions"):
            assert content.find(f"{LT}{part}") is not None, (name, part)


def test_case_notes_list_is_grepable_sentences():
    assert len(CASE_NOTES) >= 15
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
    # coded and structured case data is dropped too: ethnicity, language, need domains,
    # assessment status, closure reason, job titles, the "known as" name
    for value in ("APKN", "URD", "DEV", "PAR", "INPROGRESS", "COMPLETED", "OUTCOMES", "Learning Mentor", "Ash"):
        assert f'"{value}"' not in out
    if not mapping.is_lookup(root):  # the Lantern user who raised a notification is not an actor
        assert "shughes" not in out


def test_lookup_by_reference(mapping):
    req = mapping.lookup_request(_root("involvement_enquiry_by_ref.xml"))
    assert req.actor == Actor(user_id="shughes", name="Sarah Hughes", organisation="Lister Primary School", organisation_code="107285")
    assert req.reason.value == "assessment"
    assert [(i.scheme.value, i.value, i.system) for i in req.identifiers] == [
        ("nhs_number", "4857773120", None),
        ("local", "LT-P-100245", "ecaf"),
    ]
    assert req.criteria is None


def test_lookup_by_demographics(mapping):
    req = mapping.lookup_request(_root("involvement_enquiry_by_demographics.xml"))
    assert req.actor.user_id == "iali" and req.reason.value == "case_coordination" and req.identifiers == []
    c = req.criteria
    assert (c.given_names, c.family_name, c.date_of_birth, c.gender.value, c.postcode, c.fuzzy) == (
        "Aisha", "Khan", date(2016, 1, 5), "female", "BD8 9RZ", True,
    )


@pytest.mark.parametrize("name", LOOKUPS)
def test_lookup_samples_match_expected(mapping, name):
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert mapping.lookup_request(_root(name)).wire() == expected


def _result() -> LookupResult:
    aisha = ChildRecord(
        directory_id="CP0000000349",
        given_names="Aisha Noor",
        family_name="Khan",
        date_of_birth=date(2016, 1, 5),
        gender="female",
        address={"lines": ["22 Cemetery Road", "Girlington", "Bradford"], "postcode": "BD8 9RZ"},
        carers=[Carer(given_names="Samina", family_name="Khan", relationship="mother", phone="07700 900518", parental_responsibility=True)],
        settings=[
            Setting(kind="school", code="107285", name="Lister Primary School", phone="01632 960100", start_date=date(2020, 9, 3)),
            Setting(kind="gp_practice", code="B83035", name="Girlington Medical Practice"),
        ],
        involvements=[
            InvolvementView(
                service="early_help",
                organisation="Lister Primary School",
                practitioner=Practitioner(name="Sarah Hughes", role="caf_assessor", phone="01632 960143"),
                start_date=date(2024, 4, 29),
                caf_completed_on=date(2024, 5, 20),
                source_system="ecaf",
            ),
            InvolvementView(
                service="family_support",
                organisation="Bradford Family Hubs",
                practitioner=Practitioner(name="Imran Ali", role="family_support_worker", team="Bradford West Family Hub", email="imran.ali@bradford.gov.uk"),
                start_date=date(2024, 5, 22),
                end_date=date(2024, 9, 13),
            ),
            InvolvementView(
                service="school_nursing",
                organisation="Bradford District Care NHS Foundation Trust",
                practitioner=Practitioner(name="Joanne Pickles", role="school_nurse"),
                start_date=date(2024, 5, 22),
                lead_professional=True,
            ),
            InvolvementView(service="unspecified", organisation="Bradford District Care NHS Foundation Trust", start_date=date(2024, 6, 3)),
        ],
    )
    shielded = ChildRecord(directory_id="CP0000000422", given_names="Aisha", family_name="Khan", date_of_birth=date(2016, 1, 5), gender="female", shielded=True)
    return LookupResult(matches=[SearchMatch(score=1.0, record=aisha), SearchMatch(score=0.874, record=shielded)])


def test_render_lookup_is_valid_against_lantern_xsd(mapping, schema):
    request = mapping.lookup_request(_root("involvement_enquiry_by_ref.xml"))
    root = mapping.render_lookup(request, _result())
    schema.assertValid(root)
    assert root.tag == f"{LT}InvolvementEnquiryResponse"
    assert [root.findtext(f"{LT}{n}") for n in ("Enquirer", "Outcome", "PeopleFound")] == ["shughes", "FOUND", "2"]
    first, second = root.findall(f"{LT}Person")
    assert (first.get("directoryRef"), first.get("matchScore"), first.get("restricted")) == ("CP0000000349", "1.000", "false")
    assert first.findtext(f"{LT}Sex") == "2" and first.findtext(f"{LT}BirthDate") == "2016-01-05"
    carer = first.find(f"{LT}Carer")
    assert (carer.get("relationship"), carer.get("parentalResponsibility")) == ("MOTHER", "true")
    assert [(s.get("kind"), s.get("ref"), s.text) for s in first.findall(f"{LT}Setting")] == [
        ("SCHOOL", "107285", "Lister Primary School"),
        ("GP", "B83035", "Girlington Medical Practice"),
    ]
    professionals = first.findall(f"{LT}Professional")
    assert [(p.get("agency"), p.findtext(f"{LT}ServiceName"), p.get("leadProfessional")) for p in professionals] == [
        ("EHA", "Early help", "false"),
        ("FSS", "Family support", "false"),
        ("SNS", "School nursing", "true"),
        ("UNS", "Service not shown", "false"),
    ]
    caf = professionals[0]
    assert caf.findtext(f"{LT}RoleCode") == "CAFA" and caf.findtext(f"{LT}CafCompletedOn") == "2024-05-20"
    assert professionals[1].get("to") == "2024-09-13" and professionals[0].get("to") is None
    assert professionals[3].find(f"{LT}Name") is None  # a masked service shows no worker
    # the shielded record shows only what a shielded record may show
    assert second.get("restricted") == "true" and second.get("matchScore") == "0.874"
    assert [etree.QName(e).localname for e in second] == ["GivenName", "FamilyName", "BirthDate", "Sex"]


def test_render_empty_result_is_valid(mapping, schema):
    request = mapping.lookup_request(_root("involvement_enquiry_by_demographics.xml"))
    root = mapping.render_lookup(request, LookupResult())
    schema.assertValid(root)
    assert root.findtext(f"{LT}Outcome") == "NOT_FOUND" and root.findtext(f"{LT}PeopleFound") == "0"


def test_builtin_mapping_plugin_drives_the_ecaf_system(mapping):
    pm = make_plugin_manager()
    system = LocalSystem(id="ecaf", type="ecaf", product="Lantern eCAF", mapping=mapping, wsdl_path=mapping.wsdl_path)
    root = _root("assessment_completed.xml")
    events = pm.hook.message_to_events(system=system, root=root, message_id="LT-BRD-20240520-0977")
    assert [e.type for e in events] == ["assessment_completed"]
    assert pm.hook.lookup_request(system=system, root=root) is None
    request = pm.hook.lookup_request(system=system, root=_root("involvement_enquiry_by_ref.xml"))
    assert isinstance(request, LookupRequest)
    rendered = pm.hook.render_lookup(system=system, request=request, result=LookupResult())
    assert rendered.tag == f"{LT}InvolvementEnquiryResponse"
    assert pm.hook.register_intake_sources(system=system) == []  # eCAF only talks SOAP


def test_soap_envelope_is_unwrapped_like_any_sample(mapping, tmp_path):
    """Lantern posts SOAP 1.1: the sample checker (and the adapter) read the body element."""
    from cpbridge.mapping.samples import check_sample

    body = (SAMPLES / "tac_member_left.xml").read_bytes().split(b"?>", 1)[1]
    envelope = b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>' + body + b"</s:Body></s:Envelope>"
    sample = tmp_path / "tac_member_left.xml"
    sample.write_bytes(envelope)
    (tmp_path / "tac_member_left.expected.json").write_bytes((SAMPLES / "tac_member_left.expected.json").read_bytes())
    report = check_sample(mapping, sample)
    assert report.ok and report.compared, report.describe()


def test_every_sample_checks_clean(mapping):
    reports = mapping.check_samples()
    assert {r.sample.name for r in reports} == set(INBOUND) | set(REFUSED) | set(LOOKUPS)
    assert all(r.ok and r.compared for r in reports), [r.describe() for r in reports if not r.ok]


def test_wsdl_operations_refer_to_served_schemas():
    wsdl = etree.parse(str(WSDL))
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "xs": "http://www.w3.org/2001/XMLSchema"}
    ops = [o.get("name") for o in wsdl.findall("w:portType/w:operation", ns)]
    assert ops == [
        "AssessmentStarted", "AssessmentCompleted", "AssessmentUpdated", "AssessmentClosed",
        "LeadProfessionalNominated", "LeadProfessionalChanged", "TacMemberJoined", "TacMemberLeft",
        "InvolvementEnquiry", "GetStatus",
    ]
    imports = {i.get("namespace"): i.get("schemaLocation") for i in wsdl.findall("w:types/xs:schema/xs:import", ns)}
    assert imports == {NS: "?xsd=lantern.xsd", "urn:cpbridge:adapter:1": "?xsd=adapter.xsd"}
    declared = set()
    for path, tns in ((XSD, NS), (ADAPTER_XSD, "urn:cpbridge:adapter:1")):
        declared |= {f"{{{tns}}}{e.get('name')}" for e in etree.parse(str(path)).getroot().findall("xs:element", ns)}
    root = wsdl.getroot()
    for part in wsdl.findall("w:message/w:part", ns):
        prefix, local = part.get("element").split(":")
        assert f"{{{root.nsmap[prefix]}}}{local}" in declared, part.get("element")
    assert len(wsdl.findall("w:binding/w:operation", ns)) == len(ops)


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

    client = zeep.Client("http://127.0.0.1:8600/systems/ecaf/soap?wsdl", transport=Served())
    service = client.wsdl.services["LanternEcafAdapter"].ports["LanternEcafPort"]
    ops = service.binding._operations
    assert set(ops) >= {"AssessmentCompleted", "TacMemberJoined", "InvolvementEnquiry", "GetStatus"}
    assert ops["AssessmentCompleted"].output.body.qname.text == "{urn:cpbridge:adapter:1}Acknowledgement"
    assert ops["InvolvementEnquiry"].output.body.qname.text == f"{LT}InvolvementEnquiryResponse"
