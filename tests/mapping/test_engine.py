"""Applying a mapping to messages: XPath and namespaces, code lists, for_each, when, faults."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from cpbridge.faults import Fault
from cpbridge.mapping import load_mapping
from cpbridge.model import InvolvementOpened, event_id_for

from .conftest import BASE, NS, opened, xml


@pytest.fixture
def mapping(write_mapping):
    return load_mapping(write_mapping(BASE))


def test_message_recognised_by_namespaced_match(mapping):
    root = xml(opened())
    assert mapping.message_type(root) == "Opened"
    assert mapping.message_id(root) == "MSG-1"
    assert not mapping.is_lookup(root)
    # same local name in another namespace is not the message
    other = xml(opened().replace(NS.encode(), b"urn:someone:else"))
    assert mapping.message_type(other) is None


def test_events_fill_engine_fields_and_mapped_fields(mapping):
    events = mapping.events(xml(opened()), "MSG-1")
    assert [e.type for e in events] == ["involvement_opened", "demographics_changed"]
    ev = events[0]
    assert isinstance(ev, InvolvementOpened)
    assert ev.event_id == event_id_for("test", "MSG-1", 0)
    assert events[1].event_id == event_id_for("test", "MSG-1", 1)
    assert ev.source_system == "test"
    # local time without an offset is read in Europe/London (BST in July)
    assert ev.occurred_at == datetime.fromisoformat("2024-07-01T09:30:00+01:00")
    assert ev.occurred_at.utcoffset() == timedelta(hours=1)
    c = ev.child
    assert (c.given_names, c.family_name, c.date_of_birth, c.gender.value) == ("Amelia Rose", "Thompson", date(2015, 3, 2), "female")
    assert [(i.scheme.value, i.value, i.system) for i in c.identifiers] == [
        ("nhs_number", "9434765919", None),
        ("local", "C100", "test"),
    ]
    assert ev.child_key == "test:C100"
    inv = ev.involvement
    assert (inv.local_reference, inv.service.value, inv.start_date, inv.lead_professional) == (
        "CASE-1", "social_care", date(2024, 3, 14), False,
    )
    assert inv.practitioner.name == "Priya Sharma" and inv.practitioner.role.value == "social_worker"


def test_for_each_with_predicate_and_when(mapping):
    events = mapping.events(xml(opened()), "m")
    carers = events[1].carers
    assert [(c.given_names, c.family_name) for c in carers] == [("Jodie", "Thompson")]
    # no current carer: the demographics event's `when` is false, so it is not emitted
    data = opened().replace(b"<t:Current>Y</t:Current>", b"<t:Current>N</t:Current>")
    assert [e.type for e in mapping.events(xml(data), "m")] == ["involvement_opened"]


def test_event_ids_are_deterministic(mapping):
    a = [e.event_id for e in mapping.events(xml(opened()), "MSG-1")]
    b = [e.event_id for e in mapping.events(xml(opened()), "MSG-1")]
    c = [e.event_id for e in mapping.events(xml(opened()), "MSG-2")]
    assert a == b and a != c


def test_unmapped_code_is_a_fault_naming_the_field(mapping):
    with pytest.raises(Fault) as info:
        mapping.events(xml(opened(Sex="Z")), "m")
    f = info.value
    assert f.code == "UnmappedCode"
    assert f.field == "child.gender"
    assert "'Z'" in f.message and "'gender'" in f.message and "t:Sex" in f.message


def test_code_list_default_catches_unknown_codes(mapping):
    ev = mapping.events(xml(opened(Role="XYZ")), "m")[0]
    assert ev.involvement.practitioner.role.value == "practitioner"


def test_field_default_and_boolean_format(mapping):
    assert mapping.events(xml(opened(Lead=None)), "m")[0].involvement.lead_professional is False
    assert mapping.events(xml(opened(Lead="Y")), "m")[0].involvement.lead_professional is True
    with pytest.raises(Fault) as info:
        mapping.events(xml(opened(Lead="maybe")), "m")
    assert info.value.code == "InvalidRequest" and info.value.field == "involvement.leadProfessional"


def test_canonical_model_rejection_names_wire_field_and_source(mapping):
    with pytest.raises(Fault) as info:
        mapping.events(xml(opened(Nhs="943 476 5918")), "m")
    f = info.value
    assert f.code == "InvalidRequest"
    assert f.field == "child.identifier.0"
    assert "modulus-11" in f.message and "(from t:Nhs)" in f.message


def test_bad_date_is_invalid_request(mapping):
    with pytest.raises(Fault) as info:
        mapping.events(xml(opened(Dob="2015-03-02")), "m")
    assert info.value.code == "InvalidRequest" and info.value.field == "child.dateOfBirth"
    assert "%d/%m/%Y" in info.value.message


def test_missing_required_value(mapping):
    with pytest.raises(Fault) as info:
        mapping.events(xml(opened(Family=None)), "m")
    assert info.value.code == "InvalidRequest" and info.value.field == "child.familyName"


def test_optional_block_left_out_when_message_has_none_of_it(mapping):
    data = opened().replace(b"<t:Worker>", b"<t:Other>").replace(b"</t:Worker>", b"</t:Other>")
    assert mapping.events(xml(data), "m")[0].involvement.practitioner is None
    # identifier with a constant scheme but no value is left out too
    ev = mapping.events(xml(opened(Nhs=None)), "m")[0]
    assert [i.scheme.value for i in ev.child.identifiers] == ["local"]


def test_unknown_message_type(mapping):
    with pytest.raises(Fault) as info:
        mapping.events(xml(f'<t:Something xmlns:t="{NS}"/>'), "m")
    assert info.value.code == "UnknownMessageType"
    lookup = xml(f'<t:Find xmlns:t="{NS}"><t:User>u1</t:User><t:Org>Leeds</t:Org><t:Ref>C1</t:Ref></t:Find>')
    with pytest.raises(Fault, match="lookup") as info:
        mapping.events(lookup, "m")
    assert info.value.code == "UnknownMessageType"


def test_message_inside_envelope_reads_the_same(mapping):
    env = (
        b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
        + opened()
        + b"</soap:Body></soap:Envelope>"
    )
    body = xml(env)[0][0]
    assert [e.wire() for e in mapping.events(body, "m")] == [e.wire() for e in mapping.events(xml(opened()), "m")]


def test_only_named_fields_are_read(mapping):
    events = mapping.events(xml(opened()), "m")
    text = "".join(e.model_dump_json() for e in events)
    assert "must never leave" not in text
    assert "Darren" not in text  # not a current carer


def test_lookup_request_with_local_id(mapping):
    root = xml(f'<t:Find xmlns:t="{NS}"><t:User>u1</t:User><t:Org>Leeds City Council</t:Org><t:Ref>C1</t:Ref></t:Find>')
    assert mapping.is_lookup(root) and mapping.message_type(root) == "Find"
    req = mapping.lookup_request(root)
    assert req.actor.user_id == "u1" and req.reason.value == "direct_work"
    assert [(i.scheme.value, i.value, i.system) for i in req.identifiers] == [("local", "C1", "test")]


def test_lookup_request_invalid_names_field(mapping):
    root = xml(f'<t:Find xmlns:t="{NS}"><t:User>u1</t:User><t:Org>Leeds</t:Org></t:Find>')
    with pytest.raises(Fault) as info:
        mapping.lookup_request(root)
    assert info.value.code == "InvalidRequest"
    assert "identifier or search criteria" in info.value.message
    with pytest.raises(Fault) as info:
        mapping.lookup_request(xml(opened()))
    assert info.value.code == "UnknownMessageType"


def test_an_unmapped_long_value_is_not_echoed_in_the_fault():
    """A long value in a coded field is free text, not a code: the fault names the field, not the text."""
    from lxml import etree

    from cpbridge.settings import PROJECT_ROOT

    mapping = load_mapping(PROJECT_ROOT / "mappings" / "ics" / "caseview.yaml")
    sample = (PROJECT_ROOT / "samples" / "ics" / "caseview" / "case_closed.xml").read_bytes()
    sentence = b"Mother says she is afraid to ask her partner to leave"
    for value, shown in ((sentence, "53 characters"), (b"Q", "'Q'")):
        root = etree.fromstring(sample.replace(b"<cv:Gender>M</cv:Gender>", b"<cv:Gender>" + value + b"</cv:Gender>"))
        with pytest.raises(Fault) as err:
            mapping.events(root, "m1")
        assert err.value.code == "UnmappedCode" and shown in err.value.message
        assert sentence.decode() not in err.value.message
