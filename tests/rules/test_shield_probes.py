"""Probe suite: a shielded child cannot be found, or confirmed to exist, through a hidden field.

One shielded child carries every hidden field (address, postcode, school, GP practice,
carer, practitioner). Each probe is a SearchChildren request, sent through zeep as an
adapter would send it, once with the shielded child's values and once with the values
of a child that does not exist (fresh names, an unused date of birth). The two answers
must have the same HTTP status and the same bytes (there are no timestamps to
normalise), and neither may hold the child. Each probe is also sent by the management
team of the shielding authority, who may see behind the shield: that proves the probe
would have found the child, so a passing probe is not vacuous.
"""

from __future__ import annotations

import base64
import os
from datetime import date, datetime, timezone

import httpx
import pytest
import zeep
from lxml import etree
from rules_helpers import (
    LEEDS,
    SECRETS,
    SYSTEM,
    caller,
    demographics,
    fresh_name,
    header,
    identity,
    opened,
    setting,
)
from zeep.wsse.username import UsernameToken

from cpbridge.contract import DIRECTORY_NS, EVENT_OPERATIONS
from cpbridge.directory import shields

DOB = date(2013, 6, 21)  # day > 12: no day/month swap
NO_SUCH_DOB = date(2012, 11, 23)


def make_shielded(rules_wsdl, store, given: str = "Amelia Rose", dob: date = DOB):
    """A child with every hidden field, registered through SOAP and shielded by Leeds' management team."""
    client = zeep.Client(wsdl=rules_wsdl, wsse=UsernameToken("adapter", SECRETS["adapter"], use_digest=True))
    ident = identity(given=given, family=fresh_name("Ha"), dob=dob)
    directory_id = None
    for event in (
        opened(ident),
        demographics(ident, carer_family="Okonkwo"),
        setting(ident, "school", "107942", "Harehills Primary School"),
        setting(ident, "gp_practice", "B86001", "Harehills Surgery", day=4),
    ):
        wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        result = getattr(client.service, EVENT_OPERATIONS[wire.pop("type")])(**wire, _soapheaders=SYSTEM)
        directory_id = result.directoryId
    assert directory_id, "the test child was not registered"
    with store.begin() as s:
        shields.place(s, caller("management_team"), directory_id, "domestic_violence")
    return ident, directory_id


@pytest.fixture(scope="module")
def shielded(rules_wsdl, store):
    return make_shielded(rules_wsdl, store)


def _values(ident, nonexistent: bool) -> dict:
    """The probe values: the shielded child's, or those of a child that does not exist."""
    if nonexistent:
        return {"givenNames": fresh_name("Zo"), "familyName": fresh_name("Qu"), "dateOfBirth": NO_SUCH_DOB.isoformat()}
    return {"givenNames": ident.given_names, "familyName": ident.family_name, "dateOfBirth": DOB.isoformat()}


#: (probe id, criteria builder given the name/DOB values). Every probe uses at least one hidden field.
PROBES = {
    # each hidden field alone (too broad for both: the same fault)
    "postcode alone": lambda v: {"postcode": "LS8 3PQ"},
    "school alone": lambda v: {"schoolCode": "107942"},
    "gp alone": lambda v: {"gpPracticeCode": "B86001"},
    "carer alone": lambda v: {"carerFamilyName": "Okonkwo"},
    "dob + postcode": lambda v: {"dateOfBirth": v["dateOfBirth"], "postcode": "LS8 3PQ"},
    # exact searches narrowed by hidden fields
    "exact + postcode": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "postcode": "LS8 3PQ"},
    "exact + postcode unspaced lower case": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "postcode": "ls83pq"},
    "exact + school": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "schoolCode": "107942"},
    "exact + gp": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "gpPracticeCode": "B86001"},
    "exact + gp lower case": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "gpPracticeCode": "b86001"},
    "exact + carer": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "carerFamilyName": "Okonkwo"},
    "exact + carer upper case": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "carerFamilyName": "OKONKWO"},
    "exact + every hidden field": lambda v: {
        "givenNames": v["givenNames"], "familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "gender": "female",
        "postcode": "LS8 3PQ", "schoolCode": "107942", "gpPracticeCode": "B86001", "carerFamilyName": "Okonkwo",
    },
    # fuzzy combinations that need the postcode, and fuzzy names
    "fuzzy family+dob+gender+postcode": lambda v: {
        "familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "gender": "female", "postcode": "LS8 3PQ", "fuzzy": True,
    },
    "fuzzy given+dob+gender+postcode": lambda v: {
        "givenNames": v["givenNames"], "dateOfBirth": v["dateOfBirth"], "gender": "female", "postcode": "LS8 3PQ", "fuzzy": True,
    },
    "fuzzy first given name+dob+gender+postcode": lambda v: {
        "givenNames": v["givenNames"].split()[0], "dateOfBirth": v["dateOfBirth"], "gender": "female", "postcode": "LS8 3PQ", "fuzzy": True,
    },
    "fuzzy misspelt family + school": lambda v: {
        "givenNames": v["givenNames"], "familyName": v["familyName"] + "e", "dateOfBirth": v["dateOfBirth"], "schoolCode": "107942", "fuzzy": True,
    },
    "fuzzy transposed names + gp": lambda v: {
        "givenNames": v["familyName"], "familyName": v["givenNames"].split()[0], "dateOfBirth": v["dateOfBirth"], "gpPracticeCode": "B86001", "fuzzy": True,
    },
    "fuzzy + carer": lambda v: {
        "givenNames": v["givenNames"], "familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "carerFamilyName": "Okonkwo", "fuzzy": True,
    },
    # partial values of hidden fields
    "partial postcode (outward code)": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "postcode": "LS8"},
    "partial school code": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "schoolCode": "1079"},
    "partial carer name": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "carerFamilyName": "Okon"},
    "nearby postcode": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "postcode": "LS8 3PR"},
}

#: Probes the management team's view must find (the rest cannot match anyone).
EXPECT_FOUND_BEHIND_SHIELD = {
    "exact + postcode", "exact + postcode unspaced lower case", "exact + school", "exact + gp", "exact + gp lower case",
    "exact + carer", "exact + carer upper case", "exact + every hidden field", "fuzzy family+dob+gender+postcode",
    "fuzzy given+dob+gender+postcode", "fuzzy first given name+dob+gender+postcode", "fuzzy misspelt family + school",
    "fuzzy transposed names + gp", "fuzzy + carer",
}


def _raw_search(client, criteria: dict, soap_header: dict):
    """SearchChildren through zeep, returning the raw HTTP response (status and bytes)."""
    with client.settings(raw_response=True):
        return client.service.SearchChildren(criteria=criteria, _soapheaders=soap_header)


@pytest.mark.parametrize("probe", sorted(PROBES))
@pytest.mark.parametrize("role", ["practitioner", "shield_override", "system"])
def test_a_hidden_field_probe_is_answered_as_for_a_child_that_does_not_exist(probe, role, shielded, client):
    ident, directory_id = shielded
    build = PROBES[probe]
    as_child, as_nobody = build(_values(ident, False)), build(_values(ident, True))
    soap_header = SYSTEM if role == "system" else header(role, user=f"probe-{role}")
    c = client("leeds")
    found, missing = _raw_search(c, as_child, soap_header), _raw_search(c, as_nobody, soap_header)
    assert found.status_code == missing.status_code, probe
    assert found.content == missing.content, f"{probe}: the answer differs from the answer for a child that does not exist"
    assert len(found.content) == len(missing.content)
    assert directory_id.encode() not in found.content
    assert ident.family_name.encode() not in found.content


@pytest.mark.parametrize("probe", sorted(EXPECT_FOUND_BEHIND_SHIELD))
def test_each_matching_probe_does_reach_the_child_behind_the_shield(probe, shielded, client):
    """Leeds' management team may see behind its own shield: the same probes find the child."""
    ident, directory_id = shielded
    result = client("leeds").service.SearchChildren(
        criteria=PROBES[probe](_values(ident, False)), _soapheaders=header("management_team", user="mt-probe")
    )
    assert [m.record.directoryId for m in result] == [directory_id]
    assert result[0].record.shielded is True and result[0].record.address.postcode == "LS8 3PQ"


def test_another_authoritys_management_team_is_treated_like_everyone_else(shielded, client):
    ident, _ = shielded
    criteria = PROBES["exact + postcode"](_values(ident, False))
    nobody = PROBES["exact + postcode"](_values(ident, True))
    c = client("bradford")
    h = header("management_team", organisation="Bradford MDC", user="mt-bradford")
    assert _raw_search(c, criteria, h).content == _raw_search(c, nobody, h).content


@pytest.mark.parametrize("element", ["addressLine", "practitionerName", "carerGivenNames", "address"])
def test_fields_that_are_not_searchable_are_refused_alike(element, shielded, soap_url):
    """Address lines and practitioners are not search criteria at all: the schema refuses them,
    with the same answer whether or not the child exists."""
    ident, _ = shielded

    def envelope(values: dict) -> bytes:
        created = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        nonce = base64.b64encode(os.urandom(16)).decode()
        return f"""<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:d="urn:cpbridge:directory:1"
 xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
 xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd">
<s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>leeds</wsse:Username>
<wsse:Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">leeds-secret</wsse:Password>
<wsse:Nonce EncodingType="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary">{nonce}</wsse:Nonce>
<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>
<d:onBehalfOf><d:userId>probe-raw</d:userId><d:organisation>Leeds City Council</d:organisation><d:reason>direct_work</d:reason></d:onBehalfOf>
</s:Header><s:Body><d:SearchChildren><d:criteria><d:familyName>{values['familyName']}</d:familyName>
<d:dateOfBirth>{values['dateOfBirth']}</d:dateOfBirth><d:{element}>14 Beech Grove</d:{element}></d:criteria></d:SearchChildren></s:Body></s:Envelope>""".encode()

    a = httpx.post(soap_url, content=envelope(_values(ident, False)), headers={"Content-Type": "text/xml"})
    b = httpx.post(soap_url, content=envelope(_values(ident, True)), headers={"Content-Type": "text/xml"})
    assert a.status_code == b.status_code == 500
    assert a.content == b.content
    assert b"InvalidRequest" in a.content


def test_a_visible_field_search_finds_the_shielded_child_with_four_fields_only(shielded, client):
    ident, directory_id = shielded
    for role in ("practitioner", "shield_override"):
        result = client("leeds").service.SearchChildren(
            criteria={"givenNames": ident.given_names, "familyName": ident.family_name, "dateOfBirth": DOB.isoformat()},
            _soapheaders=header(role, user=f"visible-{role}"),
        )
        assert len(result) == 1
        record = result[0].record
        assert (record.directoryId, record.givenNames, record.familyName, record.dateOfBirth, record.gender) == (
            directory_id, ident.given_names, ident.family_name, DOB, "female"
        )
        assert record.shielded is True
        assert record.address is None and record.carer == [] and record.setting == [] and record.involvement == []
        assert record.overrideWarning is None


def test_an_identifier_search_and_a_read_show_only_the_four_fields(shielded, client):
    ident, directory_id = shielded
    c = client("leeds")
    by_nhs = c.service.SearchChildren(identifier=[ident.identifiers[0].wire()], _soapheaders=header(user="ids"))
    read = c.service.ReadChild(directoryId=directory_id, _soapheaders=header(user="ids"))
    for record in (by_nhs[0].record, read):
        assert record.shielded is True and record.address is None and not record.involvement and not record.setting


def test_writes_about_a_shielded_child_expose_no_hidden_field_and_keep_the_shield(rules_wsdl, client, store):
    """A feed's update about a shielded child is applied or held for review (the matcher's
    choice); either way its answer names no hidden field, and the record stays shielded."""
    ident, directory_id = make_shielded(rules_wsdl, store, given="Oliver James", dob=date(2011, 9, 17))
    moved = ident.model_copy(update={"address": ident.address.model_copy(update={"lines": ["2 New Road", "Leeds"], "postcode": "LS1 1AA"})})
    hidden = [b"LS8 3PQ", b"LS1 1AA", b"Beech", b"New Road", b"Okonkwo", b"107942", b"B86001", b"Harehills", b"Jo Bloggs"]
    c = client("adapter")
    for event in (demographics(moved, carer_family="Okonkwo", day=9), opened(moved, day=9, service="youth_offending")):
        wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        with c.settings(raw_response=True):
            answer = getattr(c.service, EVENT_OPERATIONS[wire.pop("type")])(**wire, _soapheaders=SYSTEM)
        assert not [h for h in hidden if h in answer.content], answer.content
        assert answer.status_code == 200, answer.content  # held for review, never refused with a tell-tale fault
        body = etree.fromstring(answer.content).find(f".//{{{DIRECTORY_NS}}}eventId").getparent()
        assert {etree.QName(e).localname for e in body} <= {"eventId", "outcome", "matchOutcome", "reasonCode", "directoryId"}
    read = client("leeds").service.ReadChild(directoryId=directory_id, _soapheaders=header(user="after-write"))
    assert read.shielded is True and read.address is None
    with store() as s:
        assert shields.active_shield(s, shields._child(s, directory_id).id).local_authority == LEEDS


# --- other names (finding h1): a shielded child's former names find nothing ----------------------

ALIAS_DOB = date(2014, 7, 19)  # day > 12: no day/month swap; no other test child is born on it


@pytest.fixture(scope="module")
def renamed(rules_wsdl, store):
    """A child renamed on adoption (the feed keeps the birth name as an alias), then shielded by
    Leeds: (birth identity, adoptive identity, directory ID)."""
    client = zeep.Client(wsdl=rules_wsdl, wsse=UsernameToken("adapter", SECRETS["adapter"], use_digest=True))
    birth = identity(given="Oliver", family=fresh_name("Birth"), dob=ALIAS_DOB, gender="male")
    adoptive = birth.model_copy(update={"family_name": fresh_name("Adopt")})
    directory_ids = []
    for ident, day in ((birth, 2), (adoptive, 5)):
        wire = demographics(ident, day=day).model_dump(mode="json", by_alias=True, exclude_none=True)
        result = getattr(client.service, EVENT_OPERATIONS[wire.pop("type")])(**wire, _soapheaders=SYSTEM)
        directory_ids.append(result.directoryId)
    assert directory_ids[0] and directory_ids[0] == directory_ids[1], "the rename made a second child"
    with store.begin() as s:
        shields.place(s, caller("management_team"), directory_ids[0], "adoption")
    return birth, adoptive, directory_ids[0]


def _birth_values(birth, nonexistent: bool) -> dict:
    if nonexistent:
        return {"givenNames": fresh_name("Zo"), "familyName": fresh_name("Qu"), "dateOfBirth": NO_SUCH_DOB.isoformat()}
    return {"givenNames": birth.given_names, "familyName": birth.family_name, "dateOfBirth": ALIAS_DOB.isoformat()}


#: Visible-field searches that reach the child only through its birth (former) name.
ALIAS_PROBES = {
    "exact birth surname": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"]},
    "exact birth names": lambda v: {"givenNames": v["givenNames"], "familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"]},
    "exact birth names re-cased": lambda v: {
        "givenNames": v["givenNames"].upper(), "familyName": v["familyName"].lower(), "dateOfBirth": v["dateOfBirth"],
    },
    "exact birth surname + gender": lambda v: {"familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "gender": "male"},
    "fuzzy birth names": lambda v: {
        "givenNames": v["givenNames"], "familyName": v["familyName"], "dateOfBirth": v["dateOfBirth"], "fuzzy": True,
    },
    "fuzzy misspelt birth surname": lambda v: {
        "givenNames": v["givenNames"], "familyName": v["familyName"] + "e", "dateOfBirth": v["dateOfBirth"], "fuzzy": True,
    },
    "fuzzy transposed birth names": lambda v: {
        "givenNames": v["familyName"], "familyName": v["givenNames"], "dateOfBirth": v["dateOfBirth"], "fuzzy": True,
    },
}


@pytest.mark.parametrize("probe", sorted(ALIAS_PROBES))
@pytest.mark.parametrize("role", ["practitioner", "shield_override", "system"])
def test_a_former_name_probe_is_answered_as_for_a_child_that_does_not_exist(probe, role, renamed, client):
    birth, adoptive, directory_id = renamed
    build = ALIAS_PROBES[probe]
    soap_header = SYSTEM if role == "system" else header(role, user=f"alias-{role}")
    c = client("leeds")
    found = _raw_search(c, build(_birth_values(birth, False)), soap_header)
    missing = _raw_search(c, build(_birth_values(birth, True)), soap_header)
    assert found.status_code == missing.status_code, probe
    assert found.content == missing.content, f"{probe}: the answer differs from the answer for a child that does not exist"
    assert directory_id.encode() not in found.content
    assert adoptive.family_name.encode() not in found.content


@pytest.mark.parametrize("probe", sorted(ALIAS_PROBES))
def test_each_former_name_probe_does_reach_the_child_behind_the_shield(probe, renamed, client):
    """Leeds' management team may see behind its own shield: the same probes find the child."""
    birth, adoptive, directory_id = renamed
    result = client("leeds").service.SearchChildren(
        criteria=ALIAS_PROBES[probe](_birth_values(birth, False)), _soapheaders=header("management_team", user="mt-alias")
    )
    assert [(m.record.directoryId, m.record.familyName) for m in result] == [(directory_id, adoptive.family_name)]


def test_the_current_name_still_finds_a_renamed_shielded_child_with_four_fields(renamed, client):
    _birth, adoptive, directory_id = renamed
    c = client("leeds")
    for criteria in (
        {"familyName": adoptive.family_name, "dateOfBirth": ALIAS_DOB.isoformat()},
        {"givenNames": "Oliver", "familyName": adoptive.family_name, "dateOfBirth": ALIAS_DOB.isoformat(), "fuzzy": True},
    ):
        result = c.service.SearchChildren(criteria=criteria, _soapheaders=header(user="alias-current"))
        assert [(m.score, m.record.directoryId) for m in result] == [(1.0, directory_id)]
        record = result[0].record
        assert (record.givenNames, record.familyName, record.shielded) == ("Oliver", adoptive.family_name, True)
        assert record.address is None and record.carer == [] and record.setting == [] and record.involvement == []


def test_a_shielded_childs_score_rests_on_its_current_name_alone(rules_wsdl, store, client):
    """Birth name Oliver Smith, adoptive Oliver Smyth: a fuzzy search for "Oliver Smith" scores
    the phonetic agreement with Smyth (0.8), not the exact one with the hidden birth name."""
    adapter = zeep.Client(wsdl=rules_wsdl, wsse=UsernameToken("adapter", SECRETS["adapter"], use_digest=True))
    dob = date(2013, 2, 27)
    birth = identity(given="Oliver", family="Smith" + fresh_name("x"), dob=dob, gender="male")
    adoptive = birth.model_copy(update={"family_name": birth.family_name.replace("Smith", "Smyth")})
    for ident, day in ((birth, 2), (adoptive, 5)):
        wire = demographics(ident, day=day).model_dump(mode="json", by_alias=True, exclude_none=True)
        directory_id = getattr(adapter.service, EVENT_OPERATIONS[wire.pop("type")])(**wire, _soapheaders=SYSTEM).directoryId
    with store.begin() as s:
        shields.place(s, caller("management_team"), directory_id, "adoption")
    criteria = {"givenNames": "Oliver", "familyName": birth.family_name, "dateOfBirth": dob.isoformat(), "fuzzy": True}
    c = client("leeds")
    seen = c.service.SearchChildren(criteria=criteria, _soapheaders=header(user="alias-score"))
    behind = c.service.SearchChildren(criteria=criteria, _soapheaders=header("management_team", user="mt-alias-score"))
    assert [(m.score, m.record.directoryId) for m in seen] == [(0.8, directory_id)]
    assert [(m.score, m.record.directoryId) for m in behind] == [(1.0, directory_id)]
