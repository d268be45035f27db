"""Only the account that registered an involvement may change or end it; accounts write only
for their own local systems (the h6 hijack: another account re-sending a source's reference)."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from alembic import command
from alembic.config import Config
from directory_helpers import ORG, at, fresh_id, new_identity, opened, social_worker
from sqlalchemy import select, text

from cpbridge.codes import ActorRole, WriteOutcome
from cpbridge.directory import service
from cpbridge.directory.auth import Caller, SourceScope
from cpbridge.directory.db import MIGRATIONS, VERSION_TABLE, make_engine, migrate
from cpbridge.directory.tables import InvolvementRow
from cpbridge.faults import Fault
from cpbridge.model import (
    Actor,
    AssessmentCompleted,
    ChildIdentity,
    Involvement,
    InvolvementClosed,
    InvolvementOpened,
    LeadProfessionalRemoved,
    LeadProfessionalSet,
    Practitioner,
)
from cpbridge.settings import DirectorySettings, SystemAccount


def _other(caller: Caller, role: ActorRole = ActorRole.practitioner) -> Caller:
    """A practitioner of another agency, through another system account."""
    actor = Actor(user_id="brad-1", organisation="Bradford MDC", role=role)
    return dataclasses.replace(caller, account="bradford", organisation="Bradford MDC", actor=actor, local_authority="E08000032")


NOBODY = ChildIdentity(given_names="Anyone", family_name="Whatever", date_of_birth=date(2001, 1, 1), gender="unknown")


def _attempts(ref: str) -> list:
    """Every write another account could make about the involvement ``ref`` of source ``ics``."""
    base = dict(source_system="ics", occurred_at=at(9), child=NOBODY)
    evil = Practitioner(name="Jo Bloggs", role="social_worker", phone="07000 666666", email="jo@evil.example")
    return [
        InvolvementOpened(
            event_id=fresh_id(), **base,
            involvement=Involvement(local_reference=ref, service="social_care", organisation=ORG, practitioner=evil,
                                    start_date=date(2024, 4, 30), lead_professional=True),
        ),  # fmt: skip
        InvolvementClosed(event_id=fresh_id(), **base, local_reference=ref, end_date=date(2024, 5, 10)),
        LeadProfessionalSet(event_id=fresh_id(), **base, local_reference=ref, practitioner=evil),
        LeadProfessionalRemoved(event_id=fresh_id(), **base, local_reference=ref),
        AssessmentCompleted(event_id=fresh_id(), **base, local_reference=ref, organisation=ORG, completed_on=date(2024, 5, 9), assessor=evil),
    ]


def test_another_account_cannot_change_or_end_an_involvement_and_learns_nothing(sessions, caller):
    event = opened(new_identity())
    with sessions.begin() as s:
        directory_id = service.register_involvement(s, caller, event).directory_id
    ref = event.involvement.local_reference
    for role in (ActorRole.practitioner, ActorRole.system):
        for attempt in _attempts(ref):
            with pytest.raises(Fault) as info, sessions.begin() as s:
                service.apply_event(s, _other(caller, role), attempt)
            assert (info.value.code, info.value.field) == ("NotAuthorised", "localReference"), attempt.type
            assert directory_id not in str(info.value) and ref not in str(info.value)
    with sessions() as s:
        row = s.scalar(select(InvolvementRow).where(InvolvementRow.local_reference == ref))
        assert (row.registered_by, row.practitioner_phone, row.end_date, row.lead_professional, row.caf_completed_on) == (
            "adapter", social_worker().phone, None, False, None
        )
    # the registering account still changes and ends it
    close = InvolvementClosed(event_id=fresh_id(), source_system="ics", occurred_at=at(10), child=event.child,
                              local_reference=ref, end_date=date(2024, 5, 10))  # fmt: skip
    with sessions.begin() as s:
        result = service.end_involvement(s, caller, close)
    assert (result.outcome, result.directory_id) == (WriteOutcome.applied, directory_id)


def test_an_event_id_sent_by_another_account_is_not_answered_for_it(sessions, caller):
    event = opened(new_identity())
    with sessions.begin() as s:
        service.register_involvement(s, caller, event)
    replay = event.model_copy(update={"involvement": event.involvement.model_copy(update={"local_reference": fresh_id("REF")})})
    with pytest.raises(Fault) as info, sessions.begin() as s:
        service.register_involvement(s, _other(caller), replay)
    assert (info.value.code, info.value.field) == ("NotAuthorised", "eventId")
    with sessions.begin() as s:  # the sender itself gets its duplicate answer
        assert service.register_involvement(s, caller, event).outcome is WriteOutcome.duplicate


def test_an_account_writes_only_for_its_own_local_systems(sessions, caller):
    settings = DirectorySettings(
        accounts={
            "adapter": SystemAccount(secret="a", organisation=ORG),
            "ics-leeds": SystemAccount(secret="b", organisation=ORG, source_systems=["ics"]),
        }
    )
    open_scope = SourceScope.of(settings.accounts["adapter"])
    ics_scope = SourceScope.of(settings.accounts["ics-leeds"])
    assert (open_scope.allows("ics"), open_scope.allows("ecaf"), ics_scope.allows("ics"), ics_scope.allows("ecaf")) == (
        False, True, True, False
    )  # fmt: skip
    unbound = dataclasses.replace(caller, source_systems=open_scope)
    with pytest.raises(Fault) as info, sessions.begin() as s:
        service.register_involvement(s, unbound, opened(new_identity()))
    assert (info.value.code, info.value.field) == ("NotAuthorised", "sourceSystem")
    with sessions.begin() as s:
        assert service.register_involvement(s, unbound, opened(new_identity(), source="ecaf")).outcome is WriteOutcome.applied
        bound = dataclasses.replace(caller, account="ics-leeds", source_systems=ics_scope)
        assert service.register_involvement(s, bound, opened(new_identity())).outcome is WriteOutcome.applied


def test_a_local_system_may_be_bound_to_one_account_only():
    with pytest.raises(ValueError, match="'ics' is listed by both 'a' and 'b'"):
        DirectorySettings(
            accounts={
                "a": SystemAccount(secret="a", organisation=ORG, source_systems=["ics"]),
                "b": SystemAccount(secret="b", organisation=ORG, source_systems=["ics", "yot"]),
            }
        )


def test_existing_involvements_are_backfilled_with_the_account_that_wrote_them(store_url, caller):
    """Migrate to just before 0500, write as two accounts, then upgrade: each row gets its writer."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["version_table"] = VERSION_TABLE
    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            command.downgrade(cfg, "0500_involvement_owner@-1")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO children (id, directory_id, given_names, family_name, given_key, family_key, date_of_birth, gender, status, created_at, updated_at)"
                " VALUES (900001, 'CP9000000010', 'A', 'B', 'a', 'b', '2015-01-01', 'female', 'live', '2024-01-01', '2024-01-01')"
            ))  # fmt: skip
            for ref, source, account in (("R1", "ics", "ics-leeds"), ("R2", "yot", "yot-leeds"), ("R3", "ecaf", None)):
                conn.execute(text(
                    "INSERT INTO involvements (child_id, source_system, local_reference, service, organisation, start_date, lead_professional, last_occurred_at, created_at, updated_at)"
                    " VALUES (900001, :s, :r, 'social_care', 'Leeds', '2024-01-01', false, '2024-01-01', '2024-01-01', '2024-01-01')"
                ), {"s": source, "r": ref})  # fmt: skip
                if account:
                    conn.execute(text(
                        "INSERT INTO applied_events (event_id, event_type, source_system, account, outcome, match_outcome, directory_id, applied_at)"
                        " VALUES (:e, 'involvement_opened', :s, :a, 'applied', 'new', 'CP9000000010', '2024-01-01')"
                    ), {"e": fresh_id(), "s": source, "a": account})  # fmt: skip
        migrate(engine)
        with engine.connect() as conn:
            owners = dict(conn.execute(text("SELECT local_reference, registered_by FROM involvements WHERE child_id = 900001")).all())
    finally:
        engine.dispose()
    assert owners == {"R1": "ics-leeds", "R2": "yot-leeds", "R3": None}
