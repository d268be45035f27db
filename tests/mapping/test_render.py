"""Rendering lookup results with the response template; checking sample folders."""

from __future__ import annotations

import json
from datetime import date

import pytest
from lxml import etree

from cpbridge.mapping import check_all, load_mapping
from cpbridge.model import Actor, ChildRecord, InvolvementView, LookupRequest, LookupResult, SearchMatch

from .conftest import BASE, NS, opened, xml

T = f"{{{NS}}}"


@pytest.fixture
def mapping(write_mapping):
    return load_mapping(write_mapping(BASE))


def _request():
    return LookupRequest(
        actor=Actor(user_id="u1", organisation="Leeds City Council"),
        reason="direct_work",
        identifiers=[{"scheme": "local", "system": "test", "value": "C1"}],
    )


def _result():
    open_record = ChildRecord(
        directory_id="CP0000000018",
        given_names="Amelia",
        family_name="Thompson",
        date_of_birth=date(2015, 3, 2),
        gender="unknown",
        address={"lines": ["14 Harehills Lane", "Leeds"], "postcode": "LS8 4HE"},
        involvements=[
            InvolvementView(service="social_care", organisation="Leeds City Council", start_date=date(2024, 3, 14), lead_professional=True),
            InvolvementView(service="unspecified", organisation="Leeds Community Healthcare", start_date=date(2024, 1, 5)),
        ],
    )
    shielded = ChildRecord(
        directory_id="CP0000000026", given_names="Amelia", family_name="Thomson",
        date_of_birth=date(2015, 3, 2), gender="female", shielded=True,
    )
    return LookupResult(matches=[SearchMatch(score=1.0, record=open_record), SearchMatch(score=0.874, record=shielded)])


def test_render_walks_lists_codes_formats_and_conditions(mapping):
    root = mapping.render_lookup(_request(), _result())
    assert root.tag == f"{T}Found"
    assert root.nsmap == {"t": NS}
    assert root.get("count") == "2"
    assert root.findtext(f"{T}User") == "u1"
    first, second = root.findall(f"{T}Child")
    assert first.get("score") == "1.00" and second.get("score") == "0.87"
    assert first.findtext(f"{T}Name") == "Thompson"
    assert first.findtext(f"{T}Sex") == "U"  # reverse entry declared for `unknown`
    assert second.findtext(f"{T}Sex") == "F"  # reverse derived from map
    assert first.findtext(f"{T}Dob") == "02/03/2015"
    assert [e.text for e in first.findall(f"{T}Line")] == ["14 Harehills Lane", "Leeds"]
    assert first.find(f"{T}Hidden") is None and second.findtext(f"{T}Hidden") == "yes"
    services = first.findall(f"{T}Service")
    assert [(s.get("code"), s.get("lead"), s.text) for s in services] == [
        ("CSC", "Y", "Leeds City Council"),
        ("OTH", "N", "Leeds Community Healthcare"),  # reverse_default
    ]
    assert second.findall(f"{T}Line") == [] and second.findall(f"{T}Service") == []


def test_render_empty_result(mapping):
    root = mapping.render_lookup(_request(), LookupResult())
    assert root.get("count") == "0" and root.findall(f"{T}Child") == []
    assert etree.tostring(root).startswith(b"<t:Found")


def test_check_samples_runs_every_sample_and_compares_expected(write_mapping, tmp_path):
    path = write_mapping(BASE)
    samples = tmp_path / "samples" / "ics" / "product"
    samples.mkdir(parents=True)
    (samples / "good.xml").write_bytes(opened())
    (samples / "bad_code.xml").write_bytes(opened(Sex="Z"))
    (samples / "refused.xml").write_bytes(opened(Sex="Z"))
    (samples / "refused.expected.json").write_text(json.dumps({"fault": "UnmappedCode"}))
    (samples / "find.xml").write_text(f'<t:Find xmlns:t="{NS}"><t:User>u1</t:User><t:Org>Leeds</t:Org><t:Ref>C1</t:Ref></t:Find>')
    m = load_mapping(path)
    events = [e.wire() for e in m.events(xml(opened()), "MSG-1")]
    (samples / "good.expected.json").write_text(json.dumps(events))
    reports = {r.sample.name: r for r in m.check_samples()}
    assert set(reports) == {"good.xml", "bad_code.xml", "refused.xml", "find.xml"}
    assert reports["good.xml"].ok and reports["good.xml"].events == 2 and reports["good.xml"].compared
    assert not reports["bad_code.xml"].ok and reports["bad_code.xml"].error.startswith("UnmappedCode")
    assert reports["refused.xml"].ok
    assert reports["find.xml"].ok and reports["find.xml"].kind == "lookup"

    events[0]["involvement"]["organisation"] = "Somewhere Else"
    (samples / "good.expected.json").write_text(json.dumps(events))
    report = next(r for r in m.check_samples() if r.sample.name == "good.xml")
    assert not report.ok and "differs from its .expected.json" in report.error and "Somewhere Else" in report.error


def test_check_all_reports_load_errors_and_samples(write_mapping, tmp_path):
    write_mapping(BASE, system="one", name="a")
    write_mapping(BASE.replace("service: {xpath", "servise: {xpath").replace("id: test", "id: broken"), system="two", name="b")
    reports = check_all(tmp_path / "mappings")
    assert [(r.file.name, r.kind, r.ok) for r in reports] == [("a.yaml", "mapping", True), ("b.yaml", "mapping", False)]
    assert "servise" in reports[1].error and ":" in reports[1].describe()
