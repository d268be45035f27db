"""Search rules: minimum combinations, fuzzy scoring, result limits, rate limit, no export."""

from __future__ import annotations

from datetime import date

import pytest
import zeep.exceptions
from rules_helpers import SYSTEM, fresh_name, header, identity, opened

from cpbridge.contract import DIRECTORY_WSDL
from cpbridge.directory import search
from cpbridge.faults import FAULT_NS
from cpbridge.model import LookupRequest, SearchCriteria


def fault_of(call, **kwargs) -> tuple[str, str | None, str]:
    with pytest.raises(zeep.exceptions.Fault) as info:
        call(**kwargs)
    d = info.value.detail
    return d.findtext(f".//{{{FAULT_NS}}}code"), d.findtext(f".//{{{FAULT_NS}}}field"), info.value.message


@pytest.mark.parametrize(
    "criteria, field, names",
    [
        ({"familyName": "Smith"}, "criteria.dateOfBirth", ["dateOfBirth"]),
        ({"dateOfBirth": "2015-03-02", "postcode": "LS8 3PQ"}, "criteria.familyName", ["familyName"]),
        ({"givenNames": "Amelia", "gender": "female"}, "criteria.familyName", ["familyName", "dateOfBirth"]),
        ({"familyName": "Smith", "dateOfBirth": "2015-03-02", "fuzzy": True}, "criteria.givenNames", ["givenNames"]),
        ({"givenNames": "Amy", "dateOfBirth": "2015-03-02", "gender": "female", "fuzzy": True}, "criteria.familyName", ["familyName", "postcode"]),
        ({"familyName": "Smith", "gender": "female", "postcode": "LS8 3PQ", "fuzzy": True}, "criteria.dateOfBirth", ["dateOfBirth"]),
        ({"fuzzy": True}, "criteria.givenNames", ["givenNames", "familyName", "dateOfBirth"]),
    ],
)
def test_too_broad_searches_name_what_is_missing(criteria, field, names, client):
    code, got_field, message = fault_of(client("leeds").service.SearchChildren, criteria=criteria, _soapheaders=header(user="broad"))
    assert (code, got_field) == ("SearchTooBroad", field)
    for name in names:
        assert name in message


@pytest.fixture
def child(send):
    ident = identity(given="Catherine", family=fresh_name("Smi"), dob=date(2014, 4, 7), gender="female")
    return ident, send(opened(ident)).directoryId


def _search(client, role="practitioner", **criteria):
    h = SYSTEM if role == "system" else header(role, user=f"s-{role}")
    return [(m.score, m.record.directoryId) for m in client("leeds").service.SearchChildren(criteria=criteria, _soapheaders=h)]


def test_exact_search_scores_one_and_needs_exact_names(child, client):
    ident, directory_id = child
    assert _search(client, familyName=ident.family_name, dateOfBirth="2014-04-07") == [(1.0, directory_id)]
    assert _search(client, familyName=ident.family_name + "e", dateOfBirth="2014-04-07") == []
    assert _search(client, familyName=ident.family_name, dateOfBirth="2014-07-04") == []


def test_fuzzy_search_finds_spellings_transpositions_and_swapped_dates_with_lower_scores(send, client):
    # its own date of birth: the module's other Catherines (random "Smi…" names) can sound alike
    ident = identity(given="Catherine", family=fresh_name("Smi"), dob=date(2013, 5, 9), gender="female")
    directory_id = send(opened(ident)).directoryId
    fam = ident.family_name
    cases = {
        "phonetic family": dict(givenNames="Catherine", familyName=fam + "e"),
        "phonetic given": dict(givenNames="Kathryn", familyName=fam),
        "transposed": dict(givenNames=fam, familyName="Catherine"),
    }
    for what, names in cases.items():
        found = _search(client, fuzzy=True, dateOfBirth="2013-05-09", **names)
        assert [d for _, d in found] == [directory_id], what
        assert 0.5 <= found[0][0] < 1.0, what
    swapped = _search(client, fuzzy=True, givenNames="Catherine", familyName=fam, dateOfBirth="2013-09-05")
    assert swapped == [(0.8, directory_id)]
    exact = _search(client, fuzzy=True, givenNames="Catherine", familyName=fam, dateOfBirth="2013-05-09")
    assert exact == [(1.0, directory_id)]
    by_postcode = _search(client, fuzzy=True, givenNames="Catherine", dateOfBirth="2013-05-09", gender="female", postcode="LS8 3PQ")
    assert directory_id in [d for _, d in by_postcode]
    assert _search(client, fuzzy=True, givenNames="Zebedee", familyName=fam, dateOfBirth="2013-05-09") == []


def test_a_person_gets_at_most_ten_best_first_and_a_system_one_unique_match_or_none(send, client):
    family, dob = fresh_name("Ten"), date(2016, 1, 20)
    given = ["Aaliyah", "Beatrix", "Cordelia", "Delphine", "Esme", "Florence", "Gwendolyn", "Harriet", "Imogen", "Jemima", "Kezia", "Lavinia"]
    ids = {g: send(opened(identity(given=g, family=family, dob=dob))).directoryId for g in given}
    found = _search(client, familyName=family, dateOfBirth=dob.isoformat())
    assert len(found) == 10 and all(s == 1.0 for s, _ in found)
    fuzzy = _search(client, fuzzy=True, givenNames="Esme", familyName=family, dateOfBirth=dob.isoformat())
    assert fuzzy[0] == (1.0, ids["Esme"]) and len(fuzzy) == 1  # other given names do not sound alike
    assert _search(client, "system", familyName=family, dateOfBirth=dob.isoformat()) == []  # twelve: not unique
    assert _search(client, "system", givenNames="Esme", familyName=family, dateOfBirth=dob.isoformat()) == [(1.0, ids["Esme"])]


def test_the_rate_limit_refuses_the_user_not_others(monkeypatch, child, client):
    monkeypatch.setattr(search, "RATE_LIMITER", search.RateLimiter(3))
    ident, _ = child
    c = client("leeds")
    crit = {"familyName": ident.family_name, "dateOfBirth": "2014-04-07"}
    for _ in range(3):
        c.service.SearchChildren(criteria=crit, _soapheaders=header(user="busy"))
    code, _, _ = fault_of(c.service.SearchChildren, criteria=crit, _soapheaders=header(user="busy"))
    assert code == "RateLimited"
    # refused searches count too, and another user is unaffected
    assert fault_of(c.service.SearchChildren, criteria={"fuzzy": True}, _soapheaders=header(user="busy"))[0] == "RateLimited"
    assert c.service.SearchChildren(criteria=crit, _soapheaders=header(user="calm"))


def test_rotating_user_ids_hits_the_accounts_ceiling(monkeypatch, child, client):
    """The user id is only asserted by the account: a new one each search must not lift the limit."""
    monkeypatch.setattr(search, "RATE_LIMITER", search.RateLimiter(2, per_account=5))
    ident, _ = child
    c = client("leeds")
    crit = {"familyName": ident.family_name, "dateOfBirth": "2014-04-07"}
    for i in range(5):
        assert c.service.SearchChildren(criteria=crit, _soapheaders=header(user=f"rotating-{i}"))
    code, _, message = fault_of(c.service.SearchChildren, criteria=crit, _soapheaders=header(user="rotating-5"))
    assert code == "RateLimited" and "account" in message
    # another account is unaffected
    assert client("bradford").service.SearchChildren(criteria=crit, _soapheaders=header(user="rotating-0")) is not None


def test_the_account_bucket_counts_only_searches_its_users_buckets_admit():
    now = [0.0]
    limiter = search.RateLimiter(2, per_account=3, clock=lambda: now[0])
    assert [limiter.admit("a", "busy") for _ in range(4)] == [None, None, "user", "user"]  # two account tokens used
    assert [limiter.admit("a", u) for u in ("u1", "u2")] == [None, "account"]
    assert limiter.admit("b", "u1") is None
    now[0] += 60.0
    assert limiter.admit("a", "u3") is None
    assert search.RateLimiter(30).accounts.capacity == 30 * search.ACCOUNT_CEILING_USERS
    with pytest.raises(ValueError, match="search_rate_per_account_per_minute"):
        search.RateLimiter(30, per_account=0)


def test_the_account_ceiling_comes_from_the_settings(monkeypatch):
    from cpbridge.settings import DirectorySettings

    monkeypatch.setattr(search, "RATE_LIMITER", search.RATE_LIMITER)  # restored after the test
    settings = DirectorySettings()
    assert (settings.search_rate_per_minute, settings.search_rate_per_account_per_minute) == (30, 600)
    search.configure(settings.search_rate_per_minute, settings.search_rate_per_account_per_minute)
    assert (search.RATE_LIMITER.capacity, search.RATE_LIMITER.accounts.capacity) == (30, 600)


def test_the_token_bucket_refills_evenly():
    now = [0.0]
    limiter = search.RateLimiter(30, clock=lambda: now[0])
    assert all(limiter.take(("a", "u")) for _ in range(30))
    assert not limiter.take(("a", "u"))
    now[0] += 2.0  # 30 a minute: one token every two seconds
    assert limiter.take(("a", "u")) and not limiter.take(("a", "u"))
    assert limiter.take(("a", "other"))
    with pytest.raises(ValueError):
        search.RateLimiter(0)


def test_hidden_fields_and_minimums_as_functions():
    crit = SearchCriteria(family_name="Smith", date_of_birth=date(2015, 3, 2), postcode="LS8 3PQ", carer_family_name="Jones")
    assert search.hidden_fields_used(crit) == ["postcode", "carer_family_name"]
    assert search.hidden_fields_used(SearchCriteria(family_name="Smith", date_of_birth=date(2015, 3, 2), gender="male")) == []
    actor = {"user_id": "u1", "organisation": "Leeds City Council"}
    search.check_minimum(LookupRequest(actor=actor, reason="direct_work", identifiers=[{"scheme": "directory_id", "value": "CP0000000018"}]))


def test_there_is_no_export_operation():
    """No bulk endpoint: the contract holds the writes plus one search and one read, both limited."""
    import zeep

    binding = next(iter(zeep.Client(str(DIRECTORY_WSDL)).wsdl.bindings.values()))
    assert set(binding._operations) == {
        "RegisterInvolvement", "EndInvolvement", "SetLeadProfessional", "RemoveLeadProfessional", "RecordAssessment",
        "UpdateDemographics", "UpdateSetting", "SearchChildren", "ReadChild",
    }
