"""The GP plugin and the FHIR R4 mapping: samples, NHS number verification, ITK unwrapping, lookups, WSDL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from cpbridge_gp import unwrap_distribution_envelope
from lxml import etree

from cpbridge import Fault
from cpbridge.adapter.intake import Intake
from cpbridge.adapter.outbox import Accepted
from cpbridge.contract import ADAPTER_NS, ADAPTER_XSD
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
from cpbridge.soap import parse_request
from cpbridge.systems import LocalSystem
from cpbridge.xmlsafe import parse_xml

from .product_helpers import case_notes, declared_types, sample_root

ROOT = Path(__file__).resolve().parents[2]
GP = ROOT / "mappings" / "gp"
SAMPLES = ROOT / "samples" / "gp" / "fhir"
ITK_SAMPLE = SAMPLES / "itk" / "registration_in_itk.xml"
F = "{http://hl7.org/fhir}"
ITK = "urn:nhs-itk:ns:201005"
TRACKING_ID = "7D6F23E0-AE1A-11DB-9808-B18E1E0994CD"
INBOUND = {
    "registration.xml": ["setting_changed", "demographics_changed"],
    "registration_unverified_nhs_number.xml": ["setting_changed", "demographics_changed"],
    "deregistration.xml": ["setting_changed"],
    "change_of_practice.xml": ["setting_changed", "setting_changed"],
}
CASE_NOTES = case_notes(SAMPLES)


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(GP / "fhir.yaml")


@pytest.fixture(scope="module")
def system(mapping):
    return LocalSystem(id="gp", type="gp", product=mapping.product, mapping=mapping, wsdl_path=mapping.wsdl_path)


def _root(name: str):
    return sample_root(SAMPLES, name)


def _expected(path: Path):
    return json.loads(path.with_name(path.name.replace(".xml", ".expected.json")).read_text(encoding="utf-8"))


def test_plugin_declares_gp_system_type():
    types = declared_types("gp")
    assert len(types) == 1 and types[0].plugin == "gp"


def test_every_sample_checks_clean(mapping):
    reports = mapping.check_samples()
    assert {r.sample.name for r in reports} == set(INBOUND) | {"who_else_involved.xml"}
    assert all(r.ok and r.compared for r in reports), [r.describe() for r in reports if not r.ok]


@pytest.mark.parametrize("name", sorted(INBOUND))
def test_sample_produces_exactly_the_expected_events(mapping, name):
    root = _root(name)
    events = mapping.events(root, mapping.message_id(root))
    assert [e.type for e in events] == INBOUND[name]
    assert [e.wire() for e in events] == _expected(SAMPLES / name)
    for e in events:
        assert e.child_key == "gp:6b1d2e3f-8a9c-4d0e-b1f2-3c4d5e6f7a81"


def test_registration_details(mapping):
    setting, demographics = mapping.events(_root("registration.xml"), "m")
    assert setting.setting.model_dump(exclude_none=True) == {
        "kind": "gp_practice", "code": "B86041", "name": "Chapeltown Family Surgery", "phone": "0113 496 0410",
        "address": {"lines": ["123 Chapeltown Road", "Leeds"], "postcode": "LS7 3DX"}, "start_date": date(2024, 9, 2),
    }
    child = setting.child
    assert (child.given_names, child.family_name, child.date_of_birth, child.gender.value) == (
        "Maisie Jade", "Walker", date(2016, 8, 23), "female",
    )
    assert child.address.lines == ["41 Spencer Place", "Chapeltown", "Leeds"]  # the old Bradford address is not used
    assert [(a.given_names, a.family_name) for a in child.aliases] == [("Maisie", "Campbell")]
    assert [(c.given_names, c.relationship.value) for c in demographics.carers] == [("Donna", "mother"), ("Yvonne", "grandparent")]


def test_only_a_verified_nhs_number_is_passed_on(mapping):
    verified = mapping.events(_root("registration.xml"), "m")[0].child
    unverified = mapping.events(_root("registration_unverified_nhs_number.xml"), "m")[0].child
    assert [(i.scheme.value, i.value) for i in verified.identifiers][0] == ("nhs_number", "9731518622")
    assert [i.scheme.value for i in unverified.identifiers] == ["local"]


def test_deregistration_and_change_of_practice_end_the_old_practice(mapping):
    [left] = mapping.events(_root("deregistration.xml"), "m")
    assert (left.setting.code, left.setting.start_date, left.setting.end_date) == ("B86041", date(2024, 9, 2), date(2024, 11, 15))
    old, new = mapping.events(_root("change_of_practice.xml"), "m")
    assert (old.setting.code, old.setting.name, old.setting.end_date) == ("B86019", "Oakwood Lane Medical Practice", date(2025, 1, 5))
    assert (new.setting.code, new.setting.start_date, new.setting.end_date) == ("B86041", date(2025, 1, 6), None)


@pytest.mark.parametrize("name", sorted(INBOUND) + ["who_else_involved.xml"])
def test_clinical_content_never_reaches_the_canonical_output(mapping, name):
    root = _root(name)
    out = mapping.lookup_request(root).model_dump_json() if mapping.is_lookup(root) else json.dumps(
        [e.model_dump(mode="json") for e in mapping.events(root, "m")]
    )
    for sentence in CASE_NOTES:
        assert sentence not in out
        assert " ".join(sentence.split()[:4]) not in out
    for code in ("195967001", "27113001", "320176004", "91936005", "19.4", "UKCore-EthnicCategory"):
        assert code not in out


def test_samples_carry_clinical_content_to_drop():
    text = "".join((SAMPLES / n).read_text(encoding="utf-8") for n in list(INBOUND) + ["who_else_involved.xml"])
    assert all(sentence in text for sentence in CASE_NOTES)
    for resource in ("Condition", "Observation", "MedicationStatement", "AllergyIntolerance", "Encounter"):
        assert f"<{resource}>" in text


# --- the NHS ITK distribution envelope ----------------------------------------------------------


def _itk_body():
    return parse_request(ITK_SAMPLE.read_bytes(), max_bytes=1 << 20).body


def test_prepare_document_unwraps_the_itk_envelope(system):
    pm = make_plugin_manager()
    body = _itk_body()
    assert body.tag == f"{{{ITK}}}DistributionEnvelope"
    bundle = pm.hook.prepare_document(system=system, root=body)
    assert bundle.tag == f"{F}Bundle"
    assert system.mapping.message_type(bundle) == "Registration"
    assert system.mapping.message_id(bundle) == TRACKING_ID
    # not an envelope, or not a gp system: left alone
    assert pm.hook.prepare_document(system=system, root=_root("registration.xml")) is None
    other = LocalSystem(id="ics", type="ics", product="x")
    assert pm.hook.prepare_document(system=other, root=body) is None


def test_itk_message_gives_the_same_events_under_the_tracking_id(system):
    pm = make_plugin_manager()
    bundle = pm.hook.prepare_document(system=system, root=_itk_body())
    events = pm.hook.message_to_events(system=system, root=bundle, message_id=TRACKING_ID)
    assert [e.wire() for e in events] == _expected(ITK_SAMPLE)
    plain = system.mapping.events(_root("registration.xml"), TRACKING_ID)
    assert [e.wire() for e in events] == [e.wire() for e in plain]


class _Outbox:
    def __init__(self):
        self.accepted = []

    def accept(self, system_id, message_id, message_type, events):
        self.accepted.append((system_id, message_id, message_type, events))
        return Accepted(tracking_id="trk-1", message_type=message_type, event_count=len(events), duplicate=False)


class _Host:
    def __init__(self):
        self.pm = make_plugin_manager()


def test_intake_takes_the_itk_tracking_id_as_the_message_id(system):
    outbox = _Outbox()
    ack = Intake(_Host(), outbox, client=None).handle(system, _itk_body())
    assert ack.findtext(f"{{{ADAPTER_NS}}}messageType") == "Registration"
    [(system_id, message_id, message_type, events)] = outbox.accepted
    assert (system_id, message_id, message_type, len(events)) == ("gp", TRACKING_ID, "Registration", 2)
    # the plain bundle uses its Bundle.identifier
    Intake(_Host(), outbox, client=None).handle(system, _root("registration.xml"))
    assert outbox.accepted[1][1] == "5d0a8b6e-1c2f-4e3a-9b7d-3f6e2a1c8d40"


def _envelope(edit) -> etree._Element:
    env = _itk_body()
    edit(env)
    return env


@pytest.mark.parametrize(
    "edit, problem",
    [
        (lambda e: e.find(f"{{{ITK}}}header").attrib.pop("trackingid"), "no trackingid"),
        (lambda e: e.find(f"{{{ITK}}}payloads").append(etree.Element(f"{{{ITK}}}payload", id="P2")), "exactly one payload"),
        (lambda e: e.find(f".//{{{ITK}}}manifestitem").set("base64", "true"), "is base64"),
        (lambda e: e.find(f".//{{{ITK}}}manifestitem").set("id", "other"), "not listed in the header's manifest"),
        (lambda e: e.remove(e.find(f"{{{ITK}}}header")), "no itk:header"),
    ],
)
def test_malformed_itk_envelopes_are_refused_with_the_reason(edit, problem):
    with pytest.raises(Fault) as err:
        unwrap_distribution_envelope(_envelope(edit))
    assert err.value.code == "InvalidRequest" and problem in err.value.message


def test_itk_sample_is_valid_against_itk_xsd():
    schema = etree.XMLSchema(etree.parse(str(GP / "itk.xsd")))
    schema.assertValid(_itk_body())


# --- the lookup ----------------------------------------------------------------------------------


def _result() -> LookupResult:
    maisie = ChildRecord(
        directory_id="CP0000000018", given_names="Maisie Jade", family_name="Walker", date_of_birth=date(2016, 8, 23),
        gender="female", address={"lines": ["41 Spencer Place", "Leeds"], "postcode": "LS7 4DQ"},
        carers=[Carer(given_names="Donna", family_name="Walker", relationship="mother", phone="07700 900218")],
        settings=[Setting(kind="school", code="3834013", name="Harehills Primary School", start_date=date(2024, 9, 4))],
        involvements=[
            InvolvementView(service="social_care", organisation="Leeds Children's Social Work Service",
                            practitioner=Practitioner(name="Tomasz Nowak", role="social_worker", phone="0113 496 0655"),
                            start_date=date(2024, 3, 14), lead_professional=True),
            InvolvementView(service="unspecified", organisation="Leeds Community Healthcare", start_date=date(2024, 2, 1)),
        ],
    )
    shielded = ChildRecord(directory_id="CP0000000026", given_names="Maisie", family_name="Walker",
                           date_of_birth=date(2016, 8, 23), gender="female", shielded=True)
    return LookupResult(matches=[SearchMatch(score=1.0, record=maisie), SearchMatch(score=0.9, record=shielded)])


def test_lookup_request(mapping, system):
    request = make_plugin_manager().hook.lookup_request(system=system, root=_root("who_else_involved.xml"))
    assert isinstance(request, LookupRequest)
    assert request.wire() == _expected(SAMPLES / "who_else_involved.xml")
    assert request.reason.value == "safeguarding" and request.actor.organisation_code == "B86041"


def _param(el, name):
    return el.xpath(f"f:parameter[f:name/@value='{name}'] | f:part[f:name/@value='{name}']", namespaces={"f": F[1:-1]})


def test_lookup_response_is_a_fhir_parameters_resource(mapping):
    request = mapping.lookup_request(_root("who_else_involved.xml"))
    root = mapping.render_lookup(request, _result())
    assert root.tag == f"{F}Parameters"
    assert _param(root, "matchCount")[0].find(f"{F}valueInteger").get("value") == "2"
    first, second = _param(root, "match")
    assert _param(first, "score")[0].find(f"{F}valueDecimal").get("value") == "1.00"
    patient = _param(first, "patient")[0].find(f"{F}resource/{F}Patient")
    assert [etree.QName(e).localname for e in patient] == ["identifier", "name", "gender", "birthDate", "address", "contact"]
    assert patient.find(f"{F}birthDate").get("value") == "2016-08-23"
    assert patient.find(f"{F}contact/{F}relationship/{F}coding/{F}code").get("value") == "MTH"
    involvement = _param(first, "involvement")
    codings = [i.find(f"{F}part/{F}valueCoding") for i in involvement]
    assert [(c.find(f"{F}code").get("value"), c.find(f"{F}display").get("value")) for c in codings] == [
        ("social_care", "Children's social care"), ("unspecified", "Unspecified service"),
    ]
    # the shielded record: identity only, no address, carers, settings or involvements
    shielded_patient = _param(second, "patient")[0].find(f"{F}resource/{F}Patient")
    assert [etree.QName(e).localname for e in shielded_patient] == ["identifier", "name", "gender", "birthDate"]
    assert not _param(second, "setting") and not _param(second, "involvement")
    # every value sits in a @value attribute, as FHIR XML requires
    assert all(not (e.text or "").strip() for e in root.iter())


def test_wsdl_loads_in_a_soap_client():
    import zeep
    from zeep.transports import Transport

    wsdl = GP / "fhir.wsdl"

    class Served(Transport):
        def load(self, url):
            if "?xsd=" in url:
                name = url.split("?xsd=", 1)[1]
                return (ADAPTER_XSD if name == "adapter.xsd" else GP / name).read_bytes()
            if url.endswith("?wsdl"):
                return wsdl.read_bytes()
            return super().load(url)

    client = zeep.Client("http://127.0.0.1:8600/systems/gp/soap?wsdl", transport=Served())
    ops = client.wsdl.services["GpFhirAdapter"].ports["GpFhirPort"].binding._operations
    assert set(ops) == {"SendDistEnvelope", "WhoElseInvolved", "GetStatus"}
    assert ops["SendDistEnvelope"].input.body.qname.text == f"{{{ITK}}}DistributionEnvelope"
    assert ops["SendDistEnvelope"].output.body.qname.text == f"{{{ADAPTER_NS}}}Acknowledgement"


def test_an_ended_practice_is_reported_with_its_own_dates_when_the_patient_had_several():
    """Review finding: an earlier ended practice listed first must not lend its dates to another."""
    from cpbridge.settings import PROJECT_ROOT

    text = (PROJECT_ROOT / "samples" / "gp" / "fhir" / "deregistration.xml").read_text()
    earlier = """<generalPractitioner>
          <reference value="urn:uuid:11111111-1111-4111-8111-111111111111"/>
          <type value="Organization"/>
          <identifier>
            <system value="https://fhir.nhs.uk/Id/ods-organization-code"/>
            <value value="B83020"/>
            <period><start value="2019-01-07"/><end value="2024-08-10"/></period>
          </identifier>
        </generalPractitioner>
        """
    text = text.replace("<generalPractitioner>", earlier + "<generalPractitioner>", 1)
    organisation = """<entry><fullUrl value="urn:uuid:11111111-1111-4111-8111-111111111111"/><resource><Organization>
  <identifier><system value="https://fhir.nhs.uk/Id/ods-organization-code"/><value value="B83020"/></identifier>
  <name value="Manningham Medical Practice"/></Organization></resource></entry>
  """
    at = text.index('<entry>\n    <fullUrl value="urn:uuid:c1d2e3f4')
    text = text[:at] + organisation + text[at:]
    mapping = load_mapping(PROJECT_ROOT / "mappings" / "gp" / "fhir.yaml")
    [event] = [e for e in mapping.events(parse_xml(text.encode()), "m1") if e.type == "setting_changed"]
    dates = {"B83020": ("2019-01-07", "2024-08-10"), "B86041": ("2024-09-02", "2024-11-15")}
    assert (str(event.setting.start_date), str(event.setting.end_date)) == dates[event.setting.code]
