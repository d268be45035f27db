"""The contract (XSD + WSDL) and the canonical model say the same thing.

If a field is added to cpbridge/model.py without the XSD (or the other way round),
these tests fail and name the type and field.
"""

from __future__ import annotations

import typing
from enum import Enum

import pytest
import zeep
from directory_helpers import every_event, new_identity
from lxml import etree
from pydantic import BaseModel
from suds.client import Client as SudsClient

from cpbridge import codes
from cpbridge.contract import DIRECTORY_NS, DIRECTORY_WSDL, DIRECTORY_XSD, EVENT_OPERATIONS, READ_OPERATIONS
from cpbridge.directory.app import OPERATIONS, contract_schema
from cpbridge.directory.auth import OnBehalfOf
from cpbridge.directory.service import ReadChildRequest
from cpbridge.model import (
    Address,
    AssessmentCompleted,
    Carer,
    ChildIdentity,
    ChildRecord,
    Consent,
    DemographicsChanged,
    Identifier,
    Involvement,
    InvolvementChanged,
    InvolvementClosed,
    InvolvementOpened,
    InvolvementView,
    LeadProfessionalRemoved,
    LeadProfessionalSet,
    LookupRequest,
    LookupResult,
    PersonName,
    Practitioner,
    SearchCriteria,
    SearchMatch,
    Setting,
    SettingChanged,
    WriteResult,
)
from cpbridge.xmlmodel import from_xml, to_xml, unwrap_annotation

XS = "http://www.w3.org/2001/XMLSchema"
Q = {"xs": XS}

#: XSD complexType -> model class (and model fields the XSD leaves out on purpose)
TYPES: dict[str, tuple[type[BaseModel], set[str]]] = {
    "Identifier": (Identifier, set()),
    "Address": (Address, set()),
    "PersonName": (PersonName, set()),
    "ChildIdentity": (ChildIdentity, set()),
    "Carer": (Carer, set()),
    "Setting": (Setting, set()),
    "Practitioner": (Practitioner, set()),
    "Consent": (Consent, set()),
    "Involvement": (Involvement, set()),
    "InvolvementEvent": (InvolvementOpened, {"type"}),
    "InvolvementClosed": (InvolvementClosed, {"type"}),
    "LeadProfessionalSet": (LeadProfessionalSet, {"type"}),
    "LeadProfessionalRemoved": (LeadProfessionalRemoved, {"type"}),
    "AssessmentCompleted": (AssessmentCompleted, {"type"}),
    "DemographicsChanged": (DemographicsChanged, {"type"}),
    "SettingChanged": (SettingChanged, {"type"}),
    "WriteResult": (WriteResult, set()),
    "SearchCriteria": (SearchCriteria, set()),
    "SearchRequest": (LookupRequest, {"actor", "reason"}),
    "ReadRequest": (ReadChildRequest, set()),
    "InvolvementView": (InvolvementView, set()),
    "ChildRecord": (ChildRecord, set()),
    "SearchMatch": (SearchMatch, set()),
    "LookupResult": (LookupResult, set()),
    "OnBehalfOf": (OnBehalfOf, set()),
}


@pytest.fixture(scope="module")
def xsd() -> etree._Element:
    return etree.parse(str(DIRECTORY_XSD)).getroot()


def _particles(xsd: etree._Element, node: etree._Element, optional: bool = False):
    """(name, type, minOccurs, maxOccurs) of a sequence/choice, expanding group refs."""
    for child in node:
        if not isinstance(child.tag, str):
            continue
        tag = etree.QName(child).localname
        if tag == "element":
            low = 0 if optional else int(child.get("minOccurs", "1"))
            yield child.get("name"), child.get("type").split(":")[-1], low, child.get("maxOccurs", "1")
        elif tag == "group":
            group = xsd.find(f"xs:group[@name='{child.get('ref').split(':')[-1]}']", Q)
            yield from _particles(xsd, group.find("xs:sequence", Q), optional)
        elif tag in ("sequence", "choice"):
            yield from _particles(xsd, child, optional or tag == "choice")


def _expected(cls: type[BaseModel], skip: set[str]):
    for name, info in cls.model_fields.items():
        if name in skip:
            continue
        inner, is_list = unwrap_annotation(info.annotation)
        low, high = (0 if not info.is_required() else 1), "1"
        if is_list:
            lengths = {type(m).__name__: m for m in info.metadata}
            low = getattr(lengths.get("MinLen"), "min_length", 0)
            high = str(getattr(lengths.get("MaxLen"), "max_length", "unbounded"))
        yield name, info.alias or name, inner, low, high


@pytest.mark.parametrize("type_name", sorted(TYPES))
def test_xsd_type_mirrors_the_model(xsd, type_name):
    cls, skip = TYPES[type_name]
    ctype = xsd.find(f"xs:complexType[@name='{type_name}']", Q)
    assert ctype is not None, f"directory.xsd has no complexType {type_name}"
    got = list(_particles(xsd, ctype))
    want = list(_expected(cls, skip))
    assert [g[0] for g in got] == [w[1] for w in want], f"{type_name}: element names/order differ from {cls.__name__}"
    for (el, xtype, low, high), (_field, _alias, inner, wlow, whigh) in zip(got, want, strict=False):
        where = f"{type_name}.{el}"
        assert (low, high) == (wlow, whigh), f"{where}: occurs ({low},{high}) but the model says ({wlow},{whigh})"
        if isinstance(inner, type) and issubclass(inner, Enum):
            assert xtype == inner.__name__, f"{where}: should be the {inner.__name__} code list"
        elif isinstance(inner, type) and issubclass(inner, BaseModel):
            mapped = [n for n, (c, _) in TYPES.items() if c is inner]
            assert xtype in mapped, f"{where}: type {xtype} is not the complexType for {inner.__name__}"
        elif inner is bool:
            assert xtype == "boolean", where
        elif inner.__name__ == "date":
            assert xtype == "date", where
        elif inner.__name__ == "datetime":
            assert xtype == "dateTime", where


@pytest.mark.parametrize("enum", [v for v in vars(codes).values() if isinstance(v, type) and issubclass(v, codes.StrEnum) and v is not codes.StrEnum])
def test_code_lists_are_the_xsd_enumerations(xsd, enum):
    st = xsd.find(f"xs:simpleType[@name='{enum.__name__}']", Q)
    assert st is not None, f"directory.xsd has no simpleType {enum.__name__}"
    values = [e.get("value") for e in st.iterfind(".//xs:enumeration", Q)]
    assert values == [m.value for m in enum]


def _op_element(event) -> str:
    return EVENT_OPERATIONS[event.type]


def test_every_event_class_round_trips_through_valid_xml():
    events = every_event(new_identity())
    assert {type(e) for e in events} == {
        InvolvementOpened, InvolvementChanged, InvolvementClosed, LeadProfessionalSet,
        LeadProfessionalRemoved, AssessmentCompleted, DemographicsChanged, SettingChanged,
    }
    schema = contract_schema()
    for event in events:
        el = to_xml(event, _op_element(event), DIRECTORY_NS)
        el = etree.fromstring(etree.tostring(el))  # as received: line numbers, no shared state
        assert schema.validate(el), f"{type(event).__name__}: {schema.error_log}"
        assert from_xml(el, type(event)) == event


def test_answers_round_trip_through_valid_xml(caller):
    identity = new_identity()
    record = ChildRecord(
        directory_id="CP0000000018",
        given_names=identity.given_names,
        family_name=identity.family_name,
        date_of_birth=identity.date_of_birth,
        gender=identity.gender,
        address=identity.address,
        carers=every_event(identity)[5].carers,
        settings=[every_event(identity)[6].setting],
        involvements=[InvolvementView(service="unspecified", organisation="Leeds Sexual Health", start_date="2024-01-01")],
    )
    answers = [
        ("ReadChildResponse", record),
        ("SearchChildrenResponse", LookupResult(matches=[SearchMatch(score=1.0, record=record)])),
        ("RegisterInvolvementResponse", WriteResult(event_id="ev-1", outcome="applied", match_outcome="new", directory_id="CP0000000018")),
    ]
    schema = contract_schema()
    for tag, answer in answers:
        el = to_xml(answer, tag, DIRECTORY_NS)
        assert schema.validate(el), f"{tag}: {schema.error_log}"
        assert from_xml(el, type(answer)) == answer


def test_operation_elements_cover_the_contract(xsd):
    ops = set(EVENT_OPERATIONS.values()) | set(READ_OPERATIONS)
    assert ops == set(OPERATIONS)
    elements = {e.get("name") for e in xsd.iterfind("xs:element", Q)}
    for op in ops:
        assert {op, f"{op}Response"} <= elements


def test_packaged_wsdl_loads_in_zeep_and_suds():
    ops = set(EVENT_OPERATIONS.values()) | set(READ_OPERATIONS)
    client = zeep.Client(str(DIRECTORY_WSDL))
    binding = client.wsdl.bindings["{urn:cpbridge:directory:1}DirectoryBinding"]
    assert set(binding._operations) == ops
    for name in ops:
        header = binding._operations[name].input.header
        assert [n for n, _ in header.type.elements] == ["onBehalfOf"], f"{name} does not declare the onBehalfOf header"
    suds = SudsClient(DIRECTORY_WSDL.as_uri(), cache=None)
    assert {m.name for m in suds.wsdl.services[0].ports[0].methods.values()} == ops


def test_schema_rejects_case_data_fields():
    """The contract has no element for case notes: an extra element fails validation."""
    event = every_event(new_identity())[0]
    el = to_xml(event, "RegisterInvolvement", DIRECTORY_NS)
    note = etree.SubElement(el.find(f"{{{DIRECTORY_NS}}}involvement"), f"{{{DIRECTORY_NS}}}caseNotes")
    note.text = "Mother disclosed ..."
    assert not contract_schema().validate(el)


def test_typing_helpers_still_match():  # guards the use of xmlmodel.unwrap_annotation above
    assert unwrap_annotation(typing.Optional[list[int]]) == (int, True)
