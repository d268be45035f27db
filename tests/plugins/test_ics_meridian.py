"""A second ICS product, Meridian Children's Services, onboarded by its mapping file alone.

No Python: the ``ics`` plugin's system type, ``mappings/ics/meridian.yaml`` (+ its XSD) and the
samples in ``samples/ics/meridian/``. Meridian differs from CaseView in every way a mapping can
express: no namespace, data in attributes, one element kind with a type discriminator, compact
dates, numeric codes, plain XML instead of SOAP, and its own contact search response.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
from lxml import etree

from cpbridge import Fault
from cpbridge.adapter.host import Host
from cpbridge.adapter.intake import Intake
from cpbridge.adapter.outbox import Outbox
from cpbridge.mapping import load_mapping
from cpbridge.model import (
    Carer,
    ChildRecord,
    InvolvementView,
    LookupResult,
    Practitioner,
    SearchMatch,
    Setting,
)
from cpbridge.plugins import make_plugin_manager
from cpbridge.settings import AdapterSettings, Settings

from .product_helpers import case_notes, sample_events, sample_root

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "mappings" / "ics" / "meridian.yaml"
XSD = ROOT / "mappings" / "ics" / "meridian.xsd"
SAMPLES = ROOT / "samples" / "ics" / "meridian"

INBOUND = {
    "case_opened.xml": ["involvement_opened", "demographics_changed"],
    "worker_allocated.xml": ["involvement_changed"],
    "lead_professional_on.xml": ["lead_professional_set"],
    "lead_professional_off.xml": ["lead_professional_removed"],
    "case_closed.xml": ["involvement_closed"],
}
REFUSED = {"case_opened_unknown_service.xml": "UnmappedCode"}
LOOKUPS = ["contact_search_by_ref.xml", "contact_search_by_details.xml"]
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


def test_no_python_was_written_for_it():
    """Meridian is served by the existing ics plugin: no package, module or entry point names it."""
    for path in (ROOT / "plugins").rglob("*.py"):
        assert "meridian" not in path.read_text(encoding="utf-8").lower(), path
    assert "meridian" not in (ROOT / "pyproject.toml").read_text(encoding="utf-8").lower()


def test_mapping_header(mapping):
    assert (mapping.id, mapping.system, mapping.product) == ("ics-meridian", "ics", "Meridian Children's Services")
    assert mapping.wsdl_path is None  # Meridian posts plain XML to /systems/ics-meridian/messages
    assert mapping.samples_dir == SAMPLES.resolve() and mapping.namespaces == {}


def test_every_message_type_has_a_sample(mapping):
    assert {mapping.message_type(_root(n)) for n in INBOUND} == {
        "CaseOpened", "WorkerAllocated", "LeadProfessionalOn", "LeadProfessionalOff", "CaseClosed",
    }


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_sample_produces_exactly_the_expected_events(mapping, name):
    root = _root(name)
    message_id = mapping.message_id(root)
    assert message_id and message_id.startswith("MCS-EV-")
    events = mapping.events(root, message_id)
    assert [e.type for e in events] == INBOUND[name]
    expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
    assert [json.loads(e.model_dump_json(by_alias=True, exclude_none=True)) for e in events] == expected
    for e in events:
        assert e.source_system == "ics-meridian" and e.child_key == "ics-meridian:P-88213"


def test_attributes_compact_dates_and_numeric_codes_are_read(mapping):
    opened, household = _events(mapping, "case_opened.xml")
    child = opened["child"]
    assert (child["givenNames"], child["dateOfBirth"], child["gender"]) == ("Mason Lee", "2014-07-11", "male")
    assert child["address"] == {"line": ["7 Rowan Avenue", "Allerton", "Bradford"], "postcode": "BD15 7JN"}
    assert child["alias"] == [{"givenNames": "Mason", "familyName": "Kirby"}]
    assert opened["occurredAt"] == "2024-07-01T11:15:02+01:00"  # local time, BST
    inv = opened["involvement"]
    assert (inv["service"], inv["startDate"], inv["practitioner"]["role"], inv["practitioner"]["team"]) == (
        "social_care", "2024-07-01", "social_worker", "Bradford West Child in Need",
    )
    mother, grandmother = household["carer"]
    assert (mother["relationship"], mother["parentalResponsibility"]) == ("mother", True)
    assert mother["address"] == child["address"]  # sameAddress="1"
    assert (grandmother["relationship"], grandmother["parentalResponsibility"]) == ("grandparent", False)
    assert "address" not in grandmother


def test_lead_flag_and_closure(mapping):
    (on,) = _events(mapping, "lead_professional_on.xml")
    (off,) = _events(mapping, "lead_professional_off.xml")
    (closed,) = _events(mapping, "case_closed.xml")
    assert on["localReference"] == off["localReference"] == closed["localReference"] == "MCS-380-2024-01177"
    assert on["practitioner"]["name"] == "Dean Foster"
    assert closed["endDate"] == "2024-11-04"
    assert closed["occurredAt"] == "2024-11-04T16:45:12Z"  # GMT in November


def test_unknown_service_code_is_refused(mapping):
    with pytest.raises(Fault) as exc:
        mapping.events(_root("case_opened_unknown_service.xml"), "m")
    assert exc.value.code == "UnmappedCode" and exc.value.field == "involvement.service" and "'77'" in exc.value.message


@pytest.mark.parametrize("name", sorted(INBOUND) + sorted(REFUSED) + LOOKUPS)
def test_samples_are_valid_meridian_messages_full_of_case_data(schema, name):
    doc = etree.parse(str(SAMPLES / name))
    schema.assertValid(doc)
    text = etree.tostring(doc, encoding="unicode")
    assert any(sentence in text for sentence in CASE_NOTES), f"{name} carries no case data to drop"


def test_case_notes_list_is_grepable_sentences():
    assert len(CASE_NOTES) >= 10
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
    # ethnicity, religion, language, case status, category of need, closure reason, occupations, worker ids
    for value in ("WBRI", "NONE", "ENG", "CIN", "N1", "RC8", "Warehouse operative", "Retired", "W221", "W305", "NEG", "PMH"):
        assert f'"{value}"' not in out


def test_lookups(mapping):
    by_ref = mapping.lookup_request(_root("contact_search_by_ref.xml"))
    assert (by_ref.actor.user_id, by_ref.actor.organisation_code, by_ref.reason.value) == ("hshaw", "E08000032", "assessment")
    assert [(i.scheme.value, i.value) for i in by_ref.identifiers] == [("nhs_number", "4502137596"), ("local", "P-88213")]
    by_details = mapping.lookup_request(_root("contact_search_by_details.xml"))
    c = by_details.criteria
    assert by_details.reason.value == "safeguarding" and by_details.identifiers == []
    assert (c.given_names, c.family_name, c.date_of_birth, c.gender.value, c.postcode, c.fuzzy) == (
        "Mason", "Walker", date(2014, 7, 11), "male", "BD15 7JN", True,
    )
    for name in LOOKUPS:
        expected = json.loads((SAMPLES / name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))
        assert mapping.lookup_request(_root(name)).wire() == expected


def _result() -> LookupResult:
    mason = ChildRecord(
        directory_id="CP0000000752",
        given_names="Mason Lee",
        family_name="Walker",
        date_of_birth=date(2014, 7, 11),
        gender="male",
        address={"lines": ["7 Rowan Avenue", "Allerton", "Bradford"], "postcode": "BD15 7JN"},
        carers=[Carer(given_names="Chantelle", family_name="Walker", relationship="mother", phone="07700 900461", parental_responsibility=True)],
        settings=[
            Setting(kind="school", code="107300", name="Allerton Primary School"),
            Setting(kind="gp_practice", code="B83020", name="Thornton Medical Centre", phone="01632 960010"),
        ],
        involvements=[
            InvolvementView(
                service="social_care",
                organisation="Bradford Children's Social Care",
                practitioner=Practitioner(name="Dean Foster", role="social_worker", phone="01632 960719"),
                start_date=date(2024, 7, 1),
                lead_professional=True,
                source_system="ics-meridian",
            ),
            InvolvementView(
                service="youth_offending",
                organisation="Bradford Youth Justice Service",
                practitioner=Practitioner(name="Nadia Hussain", role="case_manager"),
                start_date=date(2024, 6, 5),
                end_date=date(2024, 9, 5),
            ),
            InvolvementView(
                service="early_help",
                organisation="Allerton Primary School",
                practitioner=Practitioner(name="Sam Patel", role="caf_assessor"),
                start_date=date(2024, 2, 1),
                caf_completed_on=date(2024, 2, 20),
            ),
            InvolvementView(service="unspecified", organisation="Bradford District Care NHS Foundation Trust", start_date=date(2024, 8, 1)),
        ],
    )
    shielded = ChildRecord(directory_id="CP0000000836", given_names="Mason", family_name="Walker", date_of_birth=date(2014, 7, 11), gender="male", shielded=True)
    return LookupResult(matches=[SearchMatch(score=0.981, record=mason), SearchMatch(score=0.9, record=shielded)])


def test_render_lookup_is_valid_against_meridian_xsd(mapping, schema):
    request = mapping.lookup_request(_root("contact_search_by_ref.xml"))
    root = mapping.render_lookup(request, _result())
    schema.assertValid(root)
    assert root.tag == "ContactSearchResult" and root.nsmap == {}
    assert (root.get("user"), root.get("found")) == ("hshaw", "2")
    first, second = root.findall("Hit")
    assert [first.get(a) for a in ("score", "cpid", "dob", "sex", "hidden")] == ["0.98", "CP0000000752", "20140711", "1", "0"]
    assert [l.text for l in first.findall("Addr/L")] == ["7 Rowan Avenue", "Allerton", "Bradford"]
    assert (first.find("Carer").get("rel"), first.find("Carer").get("pr")) == ("11", "1")
    assert [s.get("kind") for s in first.findall("Setting")] == ["1", "3"]
    services = first.findall("Service")
    assert [(s.get("code"), s.get("label"), s.get("lead")) for s in services] == [
        ("10", "Children's social care", "1"),
        ("40", "Youth offending", "0"),
        ("20", "Early help", "0"),
        ("99", "Other service (not shown)", "0"),
    ]
    assert services[0].get("from") == "20240701" and services[1].get("to") == "20240905"
    assert services[2].get("role") == "20" and services[2].get("caf") == "20240220"
    assert second.get("hidden") == "1" and len(second) == 0


def test_render_empty_result_is_valid(mapping, schema):
    root = mapping.render_lookup(mapping.lookup_request(_root("contact_search_by_details.xml")), LookupResult())
    schema.assertValid(root)
    assert root.get("found") == "0" and len(root) == 0


def test_every_sample_checks_clean(mapping):
    reports = mapping.check_samples()
    assert {r.sample.name for r in reports} == set(INBOUND) | set(REFUSED) | set(LOOKUPS)
    assert all(r.ok and r.compared for r in reports), [r.describe() for r in reports if not r.ok]


@pytest.fixture
def meridian_only(tmp_path):
    """A mappings folder holding only Meridian (its samples linked), as a new authority would start."""
    (tmp_path / "mappings" / "ics").mkdir(parents=True)
    for name in ("meridian.yaml", "meridian.xsd"):
        (tmp_path / "mappings" / "ics" / name).write_bytes((ROOT / "mappings" / "ics" / name).read_bytes())
    (tmp_path / "samples" / "ics").mkdir(parents=True)
    os.symlink(SAMPLES, tmp_path / "samples" / "ics" / "meridian")
    return tmp_path / "mappings"


class FakeDirectory:
    def __init__(self, result: LookupResult):
        self.result = result
        self.requests = []

    def search(self, request):
        self.requests.append(request)
        return self.result


def test_the_adapter_serves_it_end_to_end(meridian_only, sqlite_url, schema):
    """Host configures the system from the file; intake accepts its events and answers its search."""
    settings = Settings(adapter=AdapterSettings(mappings_dir=meridian_only))
    host = Host(settings, make_plugin_manager())
    system = host.system("ics-meridian")
    assert (system.type, system.product) == ("ics", "Meridian Children's Services")
    directory = FakeDirectory(_result())
    outbox = Outbox(sqlite_url)
    try:
        intake = Intake(host, outbox, directory)
        ack = intake.handle(system, _root("case_opened.xml"))
        a = "{urn:cpbridge:adapter:1}"
        assert [ack.findtext(f"{a}{k}") for k in ("status", "messageType", "events", "duplicate")] == ["accepted", "CaseOpened", "2", "false"]
        again = intake.handle(system, _root("case_opened.xml"))
        assert again.findtext(f"{a}duplicate") == "true"  # keyed by CaseEvent/@id
        payloads = [r.payload for r in outbox.rows(system_id="ics-meridian")]
        assert len(payloads) == 2 and not any(s in p for p in payloads for s in CASE_NOTES)
        answer = intake.handle(system, _root("contact_search_by_ref.xml"))
        schema.assertValid(answer)
        assert answer.tag == "ContactSearchResult" and answer.get("found") == "2"
        assert directory.requests[0].actor.user_id == "hshaw"
    finally:
        outbox.close()
