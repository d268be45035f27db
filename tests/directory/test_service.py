"""The directory's rules at store level, on SQLite and on the real PostgreSQL (never skipped)."""

from __future__ import annotations

from datetime import date

import pytest
from directory_helpers import at, every_event, fresh_id, fresh_nhs_number, new_identity, opened, social_worker
from sqlalchemy import func, select

from cpbridge.codes import MatchOutcome, WriteOutcome
from cpbridge.directory import service
from cpbridge.directory.matching import match_identity, name_key
from cpbridge.directory.tables import AppliedEvent, Child, InvolvementRow
from cpbridge.faults import Fault
from cpbridge.model import (
    Address,
    AssessmentCompleted,
    Carer,
    Consent,
    DemographicsChanged,
    Identifier,
    InvolvementClosed,
    LeadProfessionalSet,
    LookupRequest,
    Practitioner,
    SearchCriteria,
    Setting,
    SettingChanged,
)


def apply(sessions, caller, event):
    with sessions.begin() as s:
        return service.apply_event(s, caller, event)


def read(sessions, caller, directory_id):
    with sessions.begin() as s:
        return service.read_child(s, caller, service.ReadChildRequest(directory_id=directory_id))


def fault(sessions, caller, event) -> Fault:
    with pytest.raises(Fault) as info:
        apply(sessions, caller, event)
    return info.value


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_every_event_applies_and_the_record_shows_it(sessions, caller):
    identity = new_identity()
    results = [apply(sessions, caller, e) for e in every_event(identity)]
    assert [r.outcome for r in results] == [WriteOutcome.applied] * 8
    record = read(sessions, caller, results[0].directory_id)
    assert record.family_name == identity.family_name
    assert len(record.involvements) == 2 and len(record.carers) == 1 and len(record.settings) == 1
    assert count(sessions, AppliedEvent) == 8


def test_same_event_twice_is_one_involvement_and_says_duplicate(sessions, caller):
    event = opened(new_identity())
    first, second = apply(sessions, caller, event), apply(sessions, caller, event)
    assert (first.outcome, second.outcome) == (WriteOutcome.applied, WriteOutcome.duplicate)
    assert (second.match_outcome, second.directory_id) == (first.match_outcome, first.directory_id)
    assert count(sessions, InvolvementRow) == 1 and count(sessions, Child) == 1


def test_register_is_an_upsert_on_source_and_local_reference(sessions, caller):
    identity = new_identity()
    apply(sessions, caller, opened(identity, "UP-1", day=1))
    apply(sessions, caller, opened(identity, "UP-1", day=2, organisation="Leeds Children and Families"))
    apply(sessions, caller, opened(identity, "UP-1", day=3, source="yot", service="youth_offending"))
    with sessions() as s:
        rows = s.scalars(select(InvolvementRow).order_by(InvolvementRow.id)).all()
        assert [(r.source_system, r.organisation) for r in rows] == [
            ("ics", "Leeds Children and Families"),
            ("yot", "Leeds City Council"),
        ]


def test_an_older_event_is_stale_and_changes_nothing(sessions, caller):
    identity = new_identity()
    apply(sessions, caller, opened(identity, "ST-1", day=5))
    stale = apply(sessions, caller, opened(identity, "ST-1", day=4, organisation="Stale Org"))
    assert stale.outcome is WriteOutcome.stale
    closed_early = InvolvementClosed(
        event_id=fresh_id(), source_system="ics", occurred_at=at(3), child=identity, local_reference="ST-1", end_date=date(2024, 5, 3)
    )
    assert apply(sessions, caller, closed_early).outcome is WriteOutcome.stale
    with sessions() as s:
        row = s.scalar(select(InvolvementRow))
        assert (row.organisation, row.end_date) == ("Leeds City Council", None)
    # A stale answer is remembered: the replay is a duplicate.
    assert apply(sessions, caller, closed_early).outcome is WriteOutcome.duplicate


def test_stale_demographics_and_settings(sessions, caller):
    identity = new_identity()
    newer = DemographicsChanged(event_id=fresh_id(), source_system="ics", occurred_at=at(10), child=identity)
    moved = identity.model_copy(update={"address": Address(lines=["1 Old Road"], postcode="LS1 1AA")})
    older = DemographicsChanged(event_id=fresh_id(), source_system="ics", occurred_at=at(9), child=moved)
    assert apply(sessions, caller, newer).outcome is WriteOutcome.applied
    result = apply(sessions, caller, older)
    assert result.outcome is WriteOutcome.stale
    assert read(sessions, caller, result.directory_id).address.postcode == "LS8 3PQ"

    school = Setting(kind="school", code="107942", name="Harehills Primary School", start_date=date(2019, 9, 4))
    left = school.model_copy(update={"end_date": date(2024, 4, 1)})
    assert apply(sessions, caller, SettingChanged(event_id=fresh_id(), source_system="sims", occurred_at=at(10), child=identity, setting=left)).outcome is WriteOutcome.applied
    assert apply(sessions, caller, SettingChanged(event_id=fresh_id(), source_system="sims", occurred_at=at(9), child=identity, setting=school)).outcome is WriteOutcome.stale
    assert read(sessions, caller, result.directory_id).settings[0].end_date == date(2024, 4, 1)


def test_one_lead_professional_per_child(sessions, caller):
    identity = new_identity()
    apply(sessions, caller, opened(identity, "LP-1", lead_professional=True))
    apply(sessions, caller, opened(identity, "LP-2", source="yot", service="youth_offending", organisation="Leeds YOT"))
    lead = LeadProfessionalSet(event_id=fresh_id(), source_system="yot", occurred_at=at(2), child=identity, local_reference="LP-2")
    result = apply(sessions, caller, lead)
    flags = {i.organisation: i.lead_professional for i in read(sessions, caller, result.directory_id).involvements}
    assert flags == {"Leeds City Council": False, "Leeds YOT": True}


def test_unknown_involvement_is_a_fault(sessions, caller):
    event = every_event(new_identity())[-1]
    err = fault(sessions, caller, event)
    assert (err.code, err.field) == ("NoSuchInvolvement", "localReference")
    assert count(sessions, Child) == 0  # nothing was created on the way


def test_assessment_creates_an_early_help_involvement_or_flags_an_existing_one(sessions, caller):
    identity = new_identity()
    assessor = Practitioner(name="Sam Patel", role="caf_assessor", phone="07700 900123")
    caf = AssessmentCompleted(
        event_id=fresh_id(), source_system="ecaf", occurred_at=at(5), child=identity,
        local_reference="CAF-1", completed_on=date(2024, 5, 4), organisation="Harehills Children's Centre", assessor=assessor,
    )
    result = apply(sessions, caller, caf)
    inv = read(sessions, caller, result.directory_id).involvements[0]
    assert (inv.service.value, inv.caf_completed_on, inv.start_date, inv.practitioner.name) == (
        "early_help", date(2024, 5, 4), date(2024, 5, 4), "Sam Patel"
    )
    apply(sessions, caller, opened(identity, "CAF-2", source="ecaf", service="family_support", day=6, practitioner=None))
    again = caf.model_copy(update={"event_id": fresh_id(), "local_reference": "CAF-2", "occurred_at": at(7)})
    apply(sessions, caller, again)
    flagged = {i.service.value: (i.caf_completed_on, i.practitioner.name) for i in read(sessions, caller, result.directory_id).involvements}
    assert flagged["family_support"] == (date(2024, 5, 4), "Sam Patel")


def test_demographics_update_names_address_and_replace_the_sources_carers(sessions, caller):
    identity = new_identity()
    first = apply(sessions, caller, opened(identity))
    mum = Carer(given_names="Laura", family_name="Smith", relationship="mother")
    dad = Carer(given_names="Mark", family_name="Jones", relationship="father")
    apply(sessions, caller, DemographicsChanged(event_id=fresh_id(), source_system="gp", occurred_at=at(2), child=identity, carers=[dad]))
    renamed = identity.model_copy(update={"family_name": "Walker", "address": Address(lines=["2 New Street", "Leeds"], postcode="LS2 7AB")})
    apply(sessions, caller, DemographicsChanged(event_id=fresh_id(), source_system="ics", occurred_at=at(3), child=renamed, carers=[mum]))
    apply(sessions, caller, DemographicsChanged(event_id=fresh_id(), source_system="ics", occurred_at=at(4), child=renamed, carers=[mum]))
    record = read(sessions, caller, first.directory_id)
    assert (record.family_name, record.address.postcode) == ("Walker", "LS2 7AB")
    assert sorted(c.given_names for c in record.carers) == ["Laura", "Mark"]
    # The old name is kept as an alias, so a source still using it finds the same child.
    assert match_identity_for(sessions, identity.model_copy(update={"identifiers": []})) == (MatchOutcome.matched, first.directory_id)


def match_identity_for(sessions, identity):
    with sessions() as s:
        decision = match_identity(s, identity)
        child = s.get(Child, decision.child_id) if decision.child_id else None
        return decision.outcome, child.directory_id if child else None


def test_matching_by_identifier_then_local_then_name(sessions, caller):
    identity = new_identity()
    first = apply(sessions, caller, opened(identity))
    nhs, upn, local = identity.identifiers
    bare = identity.model_copy(update={"identifiers": [], "given_names": "Someone", "family_name": "Else"})
    for ident in (nhs, upn, local):
        assert match_identity_for(sessions, bare.model_copy(update={"identifiers": [ident]})) == (MatchOutcome.matched, first.directory_id)
    assert match_identity_for(sessions, identity.model_copy(update={"identifiers": []})) == (MatchOutcome.matched, first.directory_id)
    other_nhs = identity.model_copy(update={"identifiers": [Identifier(scheme="nhs_number", value=fresh_nhs_number())]})
    # same name and DOB, different NHS number: never auto-matched, reviewed (docs/matching.md)
    assert match_identity_for(sessions, other_nhs) == (MatchOutcome.review, None)
    # another name (the alias "Millie O'Brien" dropped too) at the same address is another child
    assert match_identity_for(sessions, bare.model_copy(update={"aliases": []})) == (MatchOutcome.new, None)


def test_a_new_source_links_its_identifiers_to_the_matched_child(sessions, caller):
    identity = new_identity()
    first = apply(sessions, caller, opened(identity))
    gp_view = identity.model_copy(update={"identifiers": [identity.identifiers[0], Identifier(scheme="local", system="gp", value="P-77")]})
    second = apply(sessions, caller, opened(gp_view, source="gp", service="health_visiting", organisation="Leeds Community Healthcare"))
    assert (second.match_outcome, second.directory_id) == (MatchOutcome.matched, first.directory_id)
    only_local = identity.model_copy(update={"identifiers": [Identifier(scheme="local", system="gp", value="P-77")], "family_name": "Different"})
    assert match_identity_for(sessions, only_local) == (MatchOutcome.matched, first.directory_id)


def test_a_trusted_identifier_of_another_child_is_a_conflict(sessions, caller):
    a, b = new_identity(), new_identity()
    apply(sessions, caller, opened(a))
    apply(sessions, caller, opened(b))
    # b's local id with a's NHS number: the two point at different children.
    # Nothing is moved silently: the event is held for the management team (docs/matching.md).
    mixed = b.model_copy(update={"identifiers": [b.identifiers[2], a.identifiers[0]]})
    held = apply(sessions, caller, opened(mixed))
    assert (held.outcome, held.reason_code, held.directory_id) == (WriteOutcome.queued_for_review, "identifier_conflict", None)
    # a second NHS number for a child that has one
    second_nhs = a.model_copy(update={"identifiers": [a.identifiers[2], Identifier(scheme="nhs_number", value=fresh_nhs_number())]})
    assert apply(sessions, caller, opened(second_nhs)).reason_code == "identifier_conflict"


def test_two_equal_name_matches_go_to_review_not_to_a_guess(sessions, caller):
    twin_a, twin_b = new_identity(), new_identity()
    twin_b = twin_b.model_copy(update={"family_name": twin_a.family_name})
    apply(sessions, caller, opened(twin_a))
    apply(sessions, caller, opened(twin_b))
    bare = twin_a.model_copy(update={"identifiers": []})
    held = apply(sessions, caller, opened(bare))
    assert (held.outcome, held.match_outcome, held.reason_code) == (WriteOutcome.queued_for_review, MatchOutcome.review, "too_close_to_call")


def test_an_unknown_directory_id_is_refused(sessions, caller):
    identity = new_identity().model_copy(update={"identifiers": [Identifier(scheme="directory_id", value="CP0000000018")]})
    assert fault(sessions, caller, opened(identity)).code == "NoSuchChild"


def test_sensitive_services_need_consent_and_are_shown_unspecified(sessions, caller):
    identity = new_identity()
    assert fault(sessions, caller, opened(identity, service="sexual_health")).code == "ConsentRequired"
    result = apply(sessions, caller, opened(identity, service="sexual_health", consent=Consent(given_by="child", recorded_on=date(2024, 4, 1))))
    inv = read(sessions, caller, result.directory_id).involvements[0]
    assert inv.service.value == "unspecified" and inv.practitioner.name == social_worker().name


def test_joining_a_school_ends_the_previous_one(sessions, caller):
    identity = new_identity()
    old = Setting(kind="school", code="100001", name="Old Primary", start_date=date(2019, 9, 4))
    new = Setting(kind="school", code="100002", name="New Academy", start_date=date(2024, 4, 15))
    gp = Setting(kind="gp_practice", code="B86001", name="Harehills Surgery")
    for day, setting in ((1, old), (2, gp), (3, new)):
        result = apply(sessions, caller, SettingChanged(event_id=fresh_id(), source_system="sims", occurred_at=at(day), child=identity, setting=setting))
    settings = {s.code: s.end_date for s in read(sessions, caller, result.directory_id).settings}
    assert settings == {"100001": date(2024, 4, 15), "B86001": None, "100002": None}


def test_search_rules(sessions, caller):
    identity = new_identity()
    result = apply(sessions, caller, opened(identity))
    apply(sessions, caller, SettingChanged(event_id=fresh_id(), source_system="sims", occurred_at=at(2), child=identity,
                                           setting=Setting(kind="school", code="107942", name="Harehills Primary School")))

    def search(**criteria):
        with sessions() as s:
            request = LookupRequest(actor=caller.actor, reason=caller.reason, criteria=SearchCriteria(**criteria))
            return [m.record.directory_id for m in service.search_children(s, caller, request).matches]

    base = dict(family_name=identity.family_name, date_of_birth=identity.date_of_birth)
    assert search(**base) == [result.directory_id]
    assert search(**base, given_names="AMELIA-ROSE", gender="female", postcode="ls83pq", school_code="107942") == [result.directory_id]
    assert search(**base, postcode="LS1 1AA") == []
    assert search(**base, school_code="999999") == []
    assert search(family_name="O'Brien", date_of_birth=identity.date_of_birth, given_names="Millie") == [result.directory_id]
    for too_broad in (dict(family_name=identity.family_name), dict(date_of_birth=identity.date_of_birth, postcode="LS8 3PQ")):
        with pytest.raises(Fault) as info:
            search(**too_broad)
        assert info.value.code == "SearchTooBroad"


def test_name_key_folds_what_sources_spell_differently():
    assert name_key("  O'Brien-Smith ") == name_key("OBRIEN SMITH") == "OBRIEN SMITH"
    assert name_key("Zoë") == name_key("ZOE")


def test_migrations_are_repeatable_and_keep_their_own_version_table(store_url):
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect

    from cpbridge.directory.db import MIGRATIONS, VERSION_TABLE, make_engine, migrate

    heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())  # each feature is its own branch

    migrate(store_url)
    migrate(store_url)  # a second run is a no-op
    engine = make_engine(store_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"children", "child_names", "child_identifiers", "carers", "settings", "involvements", "applied_events"} <= tables
        with engine.connect() as conn:
            assert set(conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalars().all()) == heads
    finally:
        engine.dispose()
