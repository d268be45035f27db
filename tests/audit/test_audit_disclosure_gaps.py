"""Disclosures the security review found unaudited or unshielded (review findings 3, 5, 10, 11):
subject access behind a shield, review cases shown to a person, and audit rows queued
before a savepoint that is rolled back."""

from __future__ import annotations

import pytest
from audit_helpers import BRADFORD, LEEDS, caller
from directory_helpers import new_identity, opened
from sqlalchemy import select

from cpbridge.codes import ActorRole, WriteOutcome
from cpbridge.directory import review, service, shields, subject_access
from cpbridge.directory.audit_tables import AuditRow
from cpbridge.directory.matching import scoring
from cpbridge.directory.review_tables import ReviewCandidate
from cpbridge.directory.shield_tables import ShieldRow
from cpbridge.directory.tables import Child
from cpbridge.faults import Fault

SYSTEM = caller(role=ActorRole.system, user_id="svc-ics")


def team(la: str = LEEDS, user_id: str = "mgr") -> object:
    return caller(role=ActorRole.management_team, la=la, user_id=user_id)


def new_child(sessions, identity=None) -> str:
    with sessions.begin() as s:
        return service.register_involvement(s, SYSTEM, opened(identity or new_identity())).directory_id


def audit_rows(sessions, operation: str) -> list[AuditRow]:
    with sessions() as s:
        return list(s.scalars(select(AuditRow).where(AuditRow.operation == operation).order_by(AuditRow.seq)))


# --- subject access and shields (h4) ---------------------------------------------------------


def test_no_team_runs_subject_access_on_a_child_no_authority_holds(sessions):
    """h4 (a): a child with no responsible authority was "in scope" for every authority."""
    directory_id = new_child(sessions)
    with sessions.begin() as s:
        s.scalar(select(Child).where(Child.directory_id == directory_id)).responsible_la = None
    for la in (LEEDS, BRADFORD):
        with sessions.begin() as s, pytest.raises(Fault) as info:
            subject_access.subject_access(s, team(la), directory_id)
        assert (info.value.code, info.value.field) == ("NotAuthorised", "directoryId")
    assert audit_rows(sessions, "SubjectAccess") == []


def test_subject_access_withholds_a_shields_hidden_fields_from_another_authoritys_team(sessions):
    """h4 (b): Leeds's team got the full record of its child although Bradford held the shield."""
    identity = new_identity()
    directory_id = new_child(sessions, identity)
    with sessions.begin() as s:
        shields.place(s, team(LEEDS), directory_id, "domestic_violence")
    with sessions.begin() as s:  # a shield held by another authority (as one placed before the area check was)
        s.scalar(select(ShieldRow)).local_authority = BRADFORD
    with sessions.begin() as s:
        report = subject_access.subject_access(s, team(LEEDS), directory_id)
    assert report.shielded and report.redacted
    record = report.record
    assert (record["familyName"], record["dateOfBirth"]) == (identity.family_name, "2015-03-02")
    for hidden in subject_access.SHIELD_HIDDEN:
        assert record[hidden] == subject_access.WITHHELD
    text = subject_access.render_text(report)
    for value in ("Beech Grove", "LS8 3PQ", "Jo Bloggs", "O'Brien", identity.identifiers[0].value):
        assert value not in text and value not in report.model_dump_json()
    # who looked at the record, from which organisation, would say where the child is now
    assert report.accesses and {a.organisation for a in report.accesses} == {subject_access.WITHHELD}
    assert any("Bradford" in n for n in report.notes)
    assert [(r.user_id, r.outcome) for r in audit_rows(sessions, "SubjectAccess")] == [("mgr", "shielded")]


def test_subject_access_is_full_for_the_shielding_authoritys_team(sessions):
    directory_id = new_child(sessions)
    with sessions.begin() as s:
        shields.place(s, team(LEEDS), directory_id, "adoption")
    with sessions.begin() as s:
        report = subject_access.subject_access(s, team(LEEDS), directory_id)
    assert report.shielded and not report.redacted
    assert report.record["address"]["postcode"] == "LS8 3PQ" and report.record["carers"] == []
    assert report.accesses[0].organisation == "Leeds City Council"
    assert [r.outcome for r in audit_rows(sessions, "SubjectAccess")] == ["behind_shield"]


# --- review cases (h5, finding 11) -----------------------------------------------------------


def shielded_case(sessions) -> tuple[str, int]:
    """A Leeds child shielded by Leeds, and an uncertain match to it (no identifiers, same address)."""
    identity = new_identity()
    directory_id = new_child(sessions, identity)
    with sessions.begin() as s:
        shields.place(s, team(LEEDS), directory_id, "adoption")
    near = identity.model_copy(update={"identifiers": [], "aliases": []})
    with sessions.begin() as s:
        held = service.register_involvement(s, SYSTEM, opened(near, source="ecaf", day=5))
    assert held.outcome is WriteOutcome.queued_for_review
    with sessions() as s:
        [summary] = review.open_cases(s, LEEDS, caller=team(LEEDS))
    return directory_id, summary.id


def test_every_candidate_shown_in_a_case_is_audited(sessions):
    directory_id, case_id = shielded_case(sessions)
    with sessions.begin() as s:
        view = review.case(s, case_id, caller=team(LEEDS, "mgr-leeds"))
    assert [c.directory_id for c in view.candidates] == [directory_id]
    with sessions.begin() as s:
        review.case(s, case_id, caller=team(BRADFORD, "mgr-brad"))
    with sessions.begin() as s:
        review.case(s, case_id)  # no person: an internal read, not a disclosure
    rows = audit_rows(sessions, review.VIEW_OPERATION)
    assert [(r.directory_id, r.user_id, r.outcome) for r in rows] == [
        (directory_id, "mgr-leeds", "behind_shield"),
        (directory_id, "mgr-brad", "shielded"),
    ]
    leeds, bradford = rows
    assert "postcode" in leeds.fields and "postcode" not in bradford.fields
    assert all(r.detail.startswith(f"case={case_id} ") for r in rows)
    for r in rows:  # names of fields, never values
        assert "LS8" not in (r.fields + r.detail) and "Beech" not in (r.fields + r.detail)


def test_a_masked_candidates_score_counts_only_the_fields_shown(sessions):
    """Finding 11: score and total weight, less the evidence shown, gave the postcode's agreement."""
    _directory_id, case_id = shielded_case(sessions)
    with sessions() as s:
        stored = s.scalar(select(ReviewCandidate).where(ReviewCandidate.case_id == case_id))
        stored_score, stored_weight = stored.score, stored.weight
    with sessions.begin() as s:
        [masked] = review.case(s, case_id, caller=team(BRADFORD)).candidates
        [open_] = review.case(s, case_id, caller=team(LEEDS)).candidates
        [summary] = review.open_cases(s, None, caller=team(BRADFORD))
    assert masked.masked and not open_.masked
    assert (open_.score, open_.weight) == (stored_score, stored_weight)
    # The postcode and address agreed: the stored weight holds their evidence, the masked one does not.
    assert masked.weight < stored_weight
    assert masked.weight == pytest.approx(sum(e.weight for e in masked.evidence))  # nothing left to subtract
    assert masked.score == pytest.approx(scoring._logistic(masked.weight))
    assert summary.best_score == masked.score != stored_score


# --- savepoints (h9b) ------------------------------------------------------------------------


def test_a_rolled_back_savepoint_keeps_the_rows_queued_before_it(sessions):
    directory_id = new_child(sessions)
    reader = caller(user_id="reader-1")
    with sessions.begin() as s:
        service.read_child(s, reader, service.ReadChildRequest(directory_id=directory_id))
        with pytest.raises(Fault), s.begin_nested():  # as the web pages run each call
            service.read_child(s, reader, service.ReadChildRequest(directory_id="CP0000000018"))
        with s.begin_nested():  # a released savepoint keeps its rows for the real commit
            service.read_child(s, reader, service.ReadChildRequest(directory_id=directory_id))
            with pytest.raises(Fault), s.begin_nested():
                service.read_child(s, reader, service.ReadChildRequest(directory_id="CP0000000018"))
        try:
            with s.begin_nested():  # rolled back after a successful read inside it: that row goes too
                service.read_child(s, reader, service.ReadChildRequest(directory_id=directory_id))
                raise RuntimeError("abandoned")
        except RuntimeError:
            pass
    rows = [(r.operation, r.outcome, r.directory_id) for r in audit_rows(sessions, "ReadChild") if r.user_id == "reader-1"]
    assert rows == [("ReadChild", "full", directory_id)] * 2


def test_a_rolled_back_transaction_writes_none_of_its_rows(sessions):
    directory_id = new_child(sessions)
    reader = caller(user_id="reader-2")
    with pytest.raises(RuntimeError), sessions.begin() as s:
        with s.begin_nested():
            service.read_child(s, reader, service.ReadChildRequest(directory_id=directory_id))
        raise RuntimeError("abandoned")
    with sessions.begin() as s:
        service.read_child(s, reader, service.ReadChildRequest(directory_id=directory_id))
    assert len([r for r in audit_rows(sessions, "ReadChild") if r.user_id == "reader-2"]) == 1
