"""Loading and validating mapping files: every error names the file, the line and the field."""

from __future__ import annotations

import pytest

from cpbridge.mapping import MappingError, load_mapping, load_mappings

from .conftest import BASE, line_of


def test_base_mapping_loads(write_mapping):
    path = write_mapping(BASE)
    m = load_mapping(path)
    assert (m.id, m.system, m.product, m.version) == ("test", "ics", "Test Product", "1.0")
    assert m.path == path
    assert m.namespaces == {"t": "urn:example:test:1"}
    assert m.wsdl_path is None and m.samples_dir is None


# (old text, new text, fragment on the offending line, field path, problem)
BAD = [
    pytest.param(
        "service: {xpath",
        "servise: {xpath",
        "servise:",
        "messages[0].events[0].involvement.servise",
        "no such field on Involvement",
        id="misspelt-field",
    ),
    pytest.param("version: \"1.0\"", "version: \"1.0\"\nowner: me", "owner:", "owner", "unknown key", id="unknown-header-key"),
    pytest.param("family_name: t:Family\n", "family_name: t:Family[\n", "family_name: t:Family[", "messages[0].child.family_name", "bad XPath", id="bad-xpath"),
    pytest.param("organisation: t:Org\n          start", "organisation: x:Org\n          start", "organisation: x:Org", "messages[0].events[0].involvement.organisation", "unknown namespace prefix 'x'", id="unknown-prefix"),
    pytest.param("match: self::t:Opened", "match: /t:Opened", "match: /t:Opened", "messages[0].match", "absolute", id="absolute-xpath"),
    pytest.param("- type: involvement_opened", "- type: involvement_openned", "involvement_openned", "messages[0].events[0].type", "unknown event type 'involvement_openned'", id="unknown-event-type"),
    pytest.param("{xpath: t:Sex, codes: gender}", "{xpath: t:Sex, codes: sex}", "codes: sex", "messages[0].child.gender.codes", "unknown code list 'sex'", id="unknown-code-list"),
    pytest.param("{M: male, F: female, X: other}", "{M: male, F: femail, X: other}", "femail", "codes.gender.map.F", "'femail' is not a Gender code", id="unknown-canonical-code"),
    pytest.param("to: Role", "to: Roles", "to: Roles", "codes.role.to", "unknown canonical code list 'Roles'", id="unknown-canonical-list"),
    pytest.param("{const: social_care}", "{const: socialcare}", "", "", "", id="placeholder-unused"),
    pytest.param("      organisation: t:Org\n    reason", "      organisation: t:Org\n      color: t:C\n    reason", "color: t:C", "lookup.request.actor.color", "no such field on Actor", id="lookup-field"),
    pytest.param("value: record.family_name", "value: record.familyNme", "record.familyNme", "lookup.response.children[1].children[0].value", "no such field on ChildRecord: 'familyNme'", id="template-path"),
    pytest.param("{path: record.gender, codes: gender}", "{path: record.gender, codes: role}", "record.gender, codes: role", "lookup.response.children[1].children[1].value.codes", "translates Role", id="template-codes-type"),
    pytest.param("    reverse: {unknown: U}\n", "", "codes: gender}}", "lookup.response.children[1].children[1].value.codes", "no local code for unknown", id="template-reverse-incomplete"),
    pytest.param("          organisation: t:Org\n          start", "          start", "involvement:", "messages[0].events[0].involvement", "Involvement.organisation is required but not mapped", id="required-field-missing"),
    pytest.param("local_reference: t:Case", "local_reference: {xpath: t:Case, codes: role}", "codes: role", "messages[0].events[0].involvement.local_reference.codes", "this field is str", id="codes-on-text"),
    pytest.param("{xpath: t:Sex, codes: gender}", "{xpath: t:Sex, codes: role}", "codes: role", "messages[0].child.gender.codes", "translates to Role, but this field is a Gender", id="codes-wrong-enum"),
    pytest.param("  - type: involvement_opened\n", "  - type: involvement_opened\n        event_id: t:Id\n", "event_id:", "messages[0].events[0].event_id", "filled by the engine", id="auto-field"),
    pytest.param("{xpath: t:Dob, format: \"%d/%m/%Y\"}", "{xpath: t:Dob, format: dd/mm/yyyy}", "format: dd/mm/yyyy", "messages[0].child.date_of_birth.format", "strptime pattern", id="bad-date-format"),
    pytest.param("map: {SW: social_worker, TM: team_manager}", "map: {SW: social_worker, 12: team_manager}", "12: team_manager", "codes.role.map.12", "quote it", id="numeric-code"),
    pytest.param("  for_each: t:Carer[t:Current = 'Y']\n", "  for_each: t:Carer[t:Current = 'Y']\n          unknownkey: t:X\n", "unknownkey", "messages[0].events[1].carers.unknownkey", "no such field on Carer", id="for-each-field"),
    pytest.param("    name: Find\n", "    name: Find\n    context: t:Nope(\n", "t:Nope(", "lookup.request.context", "bad XPath", id="lookup-bad-xpath"),
]


@pytest.mark.parametrize("old,new,fragment,where,problem", BAD)
def test_errors_name_file_line_and_field(write_mapping, old, new, fragment, where, problem):
    if not fragment:  # an enum constant that is not a canonical code
        old, new = "{const: social_care}", "{const: socialcare}"
        where, problem = "messages[0].events[0].involvement.service.const", "'socialcare' is not a Service code"
        fragment = "socialcare"
        base = BASE.replace("{xpath: t:Service, codes: service}", "{const: social_care}")
    else:
        base = BASE
    assert old in base, old
    text = base.replace(old, new, 1)
    path = write_mapping(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    err = info.value
    assert err.file == path
    assert err.line == line_of(text, fragment), str(err)
    assert err.where == where, str(err)
    assert problem in err.problem, str(err)
    assert str(err).startswith(f"{path}:{err.line}: {where}: ") or str(err).endswith(err.problem)


def test_message_format_is_file_line_field_problem(write_mapping, monkeypatch):
    path = write_mapping(BASE.replace("service: {xpath", "servise: {xpath"))
    monkeypatch.chdir(path.parent.parent.parent)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    line = line_of(path.read_text(), "servise")
    assert str(info.value) == (
        f"mappings/test/product.yaml:{line}: messages[0].events[0].involvement.servise: no such field on Involvement"
    )


def test_merged_anchor_keys_keep_lines(write_mapping):
    text = BASE.replace(
        "          practitioner:\n            context: t:Worker\n",
        "          practitioner:\n            <<: &w {context: t:Worker, nam: t:Name}\n",
    )
    path = write_mapping(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert info.value.line == line_of(text, "nam: t:Name")
    assert "no such field on Practitioner" in str(info.value)


def test_yaml_syntax_error_has_line(write_mapping):
    text = BASE.replace("product: Test Product", "product: [Test Product")
    path = write_mapping(text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert "not valid YAML" in str(info.value)
    assert info.value.line is not None


def test_missing_required_header(write_mapping):
    path = write_mapping(BASE.replace("product: Test Product\n", ""))
    with pytest.raises(MappingError, match=r"'product' is required"):
        load_mapping(path)


def test_wsdl_and_samples_resolve(write_mapping, tmp_path):
    text = BASE.replace('version: "1.0"', 'version: "1.0"\nwsdl: product.wsdl')
    path = write_mapping(text)
    with pytest.raises(MappingError, match="no WSDL file"):
        load_mapping(path)
    (path.parent / "product.wsdl").write_text("<definitions/>")
    (tmp_path / "samples" / "ics" / "product").mkdir(parents=True)
    m = load_mapping(path)
    assert m.wsdl_path == (path.parent / "product.wsdl").resolve()
    assert m.samples_dir == tmp_path / "samples" / "ics" / "product"


def test_load_mappings_refuses_duplicate_ids(write_mapping):
    first = write_mapping(BASE, system="one", name="a")
    write_mapping(BASE, system="two", name="b")
    with pytest.raises(MappingError, match=r"'test' is already the id of") as info:
        load_mappings(first.parent.parent)
    assert info.value.where == "id" and info.value.line == 1


def test_load_mappings_reads_every_system(write_mapping):
    write_mapping(BASE, system="one", name="a")
    write_mapping(BASE.replace("id: test", "id: other"), system="two", name="b")
    ids = [m.id for m in load_mappings(write_mapping(BASE, system="one", name="a").parent.parent)]
    assert ids == ["test", "other"]
