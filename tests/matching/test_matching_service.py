"""Identity matching through the directory's service, on SQLite and PostgreSQL: each rule of
docs/matching.md, the review queue (link, create, merge, undo) and the shield rule."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from cpbridge.codes import MatchOutcome, WriteOutcome
from cpbridge.directory import review, service, shields
from cpbridge.directory.matching import match_identity, store
from cpbridge.directory.matching.store import ChildMatchKey
from cpbridge.directory.review_tables import ReviewCase
from cpbridge.directory.tables import Child, ChildIdentifier, InvolvementRow
from cpbridge.faults import Fault

from .service_helpers import (
    BRADFORD,
    LEEDS,
    apply,
    demographics,
    identity,
    management,
    nhs,
    opened,
    run,
    system_caller,
)


def children(sessions) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Child).where(Child.status == "live"))


def read(sessions, directory_id):
    with sessions.begin() as s:
        return service.read_child(s, management(), service.ReadChildRequest(directory_id=directory_id))


def decision_for(sessions, ident):
    with sessions() as s:
        return match_identity(s, ident)


# --- deterministic first ------------------------------------------------------------------


def test_a_trusted_identifier_decides_despite_spelling(sessions):
    number = nhs()
    first = apply(sessions, opened(identity(nhs_number=number)))
    assert (first.match_outcome, first.reason_code) == (MatchOutcome.new, "no_candidate")
    gp = apply(sessions, opened(identity("Amellia", "Okafor-Brown", nhs_number=number, postcode="BD1 1AA"), source="gp"))
    assert (gp.outcome, gp.match_outcome, gp.reason_code, gp.directory_id) == (
        WriteOutcome.applied, MatchOutcome.matched, "nhs_number_match", first.directory_id,
    )  # fmt: skip
    # The local reference the GP linked now decides on its own.
    with sessions() as s:
        local = s.scalar(select(ChildIdentifier).where(ChildIdentifier.scheme == "local"))
        assert local is None  # opened() sends no local id; link one explicitly below
    again = apply(sessions, opened(identity("Amelia", "Okafor", nhs_number=number, local=("gp", "P-1")), source="gp"))
    only_local = decision_for(sessions, identity("Millie", "Okafor", local=("gp", "P-1")))
    assert (only_local.outcome, only_local.reason_code) == (MatchOutcome.matched, "local_reference_linked")
    assert again.directory_id == first.directory_id


def test_a_contradicted_identifier_goes_to_review(sessions):
    number = nhs()
    apply(sessions, opened(identity(nhs_number=number)))
    wrong = identity("Kacper", "Nowak", date(2009, 11, 23), gender="male", nhs_number=number)
    result = apply(sessions, opened(wrong, source="yot"))
    assert (result.outcome, result.match_outcome, result.reason_code, result.directory_id) == (
        WriteOutcome.queued_for_review, MatchOutcome.review, "demographics_contradict", None,
    )  # fmt: skip
    # Same date of birth and a new surname: still the child (an identifier is not overruled lightly).
    renamed = apply(sessions, opened(identity("Amelia", "Walker", nhs_number=number), source="school"))
    assert renamed.reason_code == "nhs_number_match"


def test_two_different_nhs_numbers_never_auto_match(sessions):
    apply(sessions, opened(identity(nhs_number=nhs())))
    before = children(sessions)
    result = apply(sessions, opened(identity(nhs_number=nhs()), source="gp"))
    assert (result.outcome, result.reason_code) == (WriteOutcome.queued_for_review, "identifier_conflict")
    assert children(sessions) == before  # nothing applied: no duplicate, no merge


# --- probabilistic -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        {"given": "Billy"},  # nickname
        {"dob": date(2015, 4, 3)},  # day and month swapped
        {"family": "Smith Jones"},  # hyphen dropped
        {"family": "Jones"},  # one half of a double surname
        {"given": "Wiliam"},  # typo
    ],
)
def test_spelling_and_date_variants_match_or_review_never_duplicate(sessions, variant):
    base = {"given": "William", "family": "Smith-Jones", "dob": date(2015, 3, 4), "gender": "male"}
    first = apply(sessions, opened(identity(**base, nhs_number=nhs())))
    result = apply(sessions, opened(identity(**{**base, **variant}), source="school"))
    assert result.match_outcome in (MatchOutcome.matched, MatchOutcome.review)
    if result.match_outcome is MatchOutcome.matched:
        assert (result.directory_id, result.reason_code) == (first.directory_id, "probabilistic_match")
    assert children(sessions) == 1


def test_an_exact_demographic_match_links_the_new_sources_identifiers(sessions):
    first = apply(sessions, opened(identity("Oluwaseun", "Adeyemi", nhs_number=nhs())))
    school = apply(sessions, opened(identity("Oluwaseun", "Adeyemi", local=("school", "S-9")), source="school"))
    assert (school.match_outcome, school.reason_code, school.directory_id) == (MatchOutcome.matched, "probabilistic_match", first.directory_id)
    assert decision_for(sessions, identity("Seun", "Adeyemi", local=("school", "S-9"))).reason_code == "local_reference_linked"


def test_twins_stay_two_children_and_siblings_never_merge(sessions):
    amelia = apply(sessions, opened(identity("Amelia", "Khan", nhs_number=nhs())))
    ava = apply(sessions, opened(identity("Ava", "Khan", nhs_number=nhs())))  # her twin
    ava_bare = apply(sessions, opened(identity("Ava", "Khan"), source="gp"))  # twin without NHS number
    brother = apply(sessions, opened(identity("Yusuf", "Khan", date(2017, 8, 19), gender="male")))
    assert amelia.match_outcome is MatchOutcome.new and ava.match_outcome is MatchOutcome.new
    assert ava_bare.directory_id == ava.directory_id
    assert brother.match_outcome is MatchOutcome.new
    assert len({amelia.directory_id, ava.directory_id, brother.directory_id}) == 3


def test_keys_follow_renames_and_a_renamed_child_is_still_found_by_the_old_name(sessions):
    first = apply(sessions, opened(identity("Maja", "Kowalska", nhs_number=nhs())))
    renamed = identity("Maja", "Evans", postcode="LS2 7AB", line="2 New Street")
    renamed = renamed.model_copy(update={"identifiers": [i for i in decision_ids(sessions, first.directory_id)]})
    apply(sessions, demographics(renamed))
    with sessions() as s:
        keys = set(s.scalars(select(ChildMatchKey.key)))
    assert any(k.startswith("ps:LS27:") for k in keys) and not any(k.startswith("ps:LS83:") for k in keys)
    old = decision_for(sessions, identity("Maja", "Kowalska"))
    assert old.outcome in (MatchOutcome.matched, MatchOutcome.review) and first.directory_id


def decision_ids(sessions, directory_id):
    from cpbridge.model import Identifier

    with sessions() as s:
        child = s.scalar(select(Child).where(Child.directory_id == directory_id))
        return [Identifier(scheme=i.scheme, value=i.value, system=i.system or None) for i in child.identifiers]


# --- shields -----------------------------------------------------------------------------


def shield(sessions, directory_id, la=LEEDS):
    """Shield the child as ``la``'s management team (made the child's responsible authority
    first: only that authority may shield it)."""
    with sessions.begin() as s:
        s.scalar(select(Child).where(Child.directory_id == directory_id)).responsible_la = la
    run(sessions, shields.place, management(la), directory_id, "domestic_violence")


def test_a_weak_match_to_a_shielded_record_is_reviewed_and_creates_no_visible_duplicate(sessions):
    hidden = apply(sessions, opened(identity("Lily", "Marsh", nhs_number=nhs())))
    shield(sessions, hidden.directory_id, BRADFORD)
    # Another area's feed: same name, day and month swapped, new address, no NHS number.
    weak = identity("Lily", "Marsh", date(2015, 4, 3), postcode="M1 1AE", line="3 Canal Street")
    result = apply(sessions, opened(weak, source="gp"))
    assert (result.outcome, result.reason_code, result.directory_id) == (WriteOutcome.queued_for_review, "uncertain", None)
    assert children(sessions) == 1
    with sessions() as s:
        case = s.scalar(select(ReviewCase))
        assert (case.reason_code, case.local_authority, case.shielded) == ("shielded_candidate", BRADFORD, True)
    # Only the shielding authority's team sees it unmasked and may resolve it.
    masked = run(sessions, review.case, case.id, caller=management(LEEDS))
    assert masked.candidates[0].masked and masked.candidates[0].postcode is None
    withheld = [e for e in masked.candidates[0].evidence if e.field in ("postcode", "address")]
    assert withheld and all(e.candidate is None for e in withheld)
    # how well they agree would tell where the child lives: withheld too
    assert {(e.level, e.weight) for e in withheld} == {(review.WITHHELD, 0.0)}
    with pytest.raises(Fault) as info:
        run(sessions, review.resolve_create, management(LEEDS), case.id)
    assert info.value.code == "NotAuthorised"
    assert not run(sessions, review.case, case.id, caller=management(BRADFORD)).candidates[0].masked


def test_a_shielded_record_is_never_updated_silently_even_by_nhs_number(sessions):
    number = nhs()
    hidden = apply(sessions, opened(identity("Lily", "Marsh", nhs_number=number)))
    shield(sessions, hidden.directory_id)
    moved = identity("Lily", "Marsh", postcode="M1 1AE", line="3 Canal Street", nhs_number=number)
    result = apply(sessions, demographics(moved))
    assert (result.outcome, result.match_outcome) == (WriteOutcome.queued_for_review, MatchOutcome.review)
    with sessions() as s:
        assert s.scalar(select(Child.postcode)) == "LS8 3PQ"
    # An involvement already on the shielded record is not updated silently either.
    with sessions() as s:
        ref = s.scalar(select(InvolvementRow.local_reference))
    again = apply(sessions, opened(identity("Lily", "Marsh", nhs_number=number), ref=ref, day=3))
    assert again.outcome is WriteOutcome.queued_for_review
    # The shielding authority's team links them: then they are applied.
    case_id = run(sessions, lambda s: s.scalar(select(ReviewCase.id).order_by(ReviewCase.id)))
    res = run(sessions, review.resolve_link, management(LEEDS), case_id, hidden.directory_id)
    assert [r.outcome for r in res.results] == [WriteOutcome.applied]
    with sessions() as s:
        assert s.scalar(select(Child.postcode)) == "M1 1AE"


# --- the review queue --------------------------------------------------------------------


def ambiguous(sessions):
    """Two records equally like an incoming identity without identifiers: a case to resolve."""
    a = apply(sessions, opened(identity("Sophie", "Turner", nhs_number=nhs())))
    b = apply(sessions, opened(identity("Sophie", "Turner", nhs_number=nhs(), postcode="LS8 3PR", line="16 Beech Grove")))
    held = apply(sessions, opened(identity("Sophie", "Turner", postcode=None), source="ecaf", ref="CAF-1"))
    assert (held.outcome, held.reason_code) == (WriteOutcome.queued_for_review, "too_close_to_call")
    case_id = run(sessions, lambda s: s.scalar(select(ReviewCase.id)))
    return a, b, held, case_id


def test_review_link_applies_the_held_events_and_replays_say_so(sessions):
    a, b, held, case_id = ambiguous(sessions)
    # A later event for the same involvement joins the case instead of failing.
    from cpbridge.model import InvolvementClosed

    from .service_helpers import fresh_id

    closing = InvolvementClosed(
        event_id=fresh_id(), source_system="ecaf", occurred_at="2024-05-09T09:00:00Z", child=identity("Sophie", "Turner", postcode=None),
        local_reference="CAF-1", end_date=date(2024, 5, 9),
    )  # fmt: skip
    assert apply(sessions, closing).outcome is WriteOutcome.queued_for_review
    queue = run(sessions, review.open_cases, LEEDS, caller=management())
    assert [(c.id, c.events, c.candidates) for c in queue] == [(case_id, 2, 2)]
    view = run(sessions, review.case, case_id, caller=management())
    assert {c.directory_id for c in view.candidates} == {a.directory_id, b.directory_id}
    assert [e.field for e in view.candidates[0].evidence][:3] == ["given_names", "family_name", "date_of_birth"]

    res = run(sessions, review.resolve_link, management(), case_id, b.directory_id)
    assert [(r.outcome, r.match_outcome, r.reason_code, r.directory_id) for r in res.results] == [
        (WriteOutcome.applied, MatchOutcome.matched, "review_linked", b.directory_id)
    ] * 2
    record = read(sessions, b.directory_id)
    assert [i.end_date for i in record.involvements if i.organisation] == [None, date(2024, 5, 9)]
    replay = apply(sessions, opened(identity("Sophie", "Turner", postcode=None), source="ecaf", ref="CAF-1").model_copy(update={"event_id": held.event_id}))
    assert (replay.outcome, replay.match_outcome, replay.directory_id) == (WriteOutcome.duplicate, MatchOutcome.matched, b.directory_id)
    assert run(sessions, review.open_cases) == []
    with pytest.raises(Fault):
        run(sessions, review.resolve_create, management(), case_id)  # already resolved


def test_review_create_makes_one_new_child_for_all_held_events(sessions):
    _, _, _, case_id = ambiguous(sessions)
    second = apply(sessions, demographics(identity("Sophie", "Turner", postcode=None), source="ecaf", day=3))
    assert second.outcome is WriteOutcome.queued_for_review  # same identity: joins the open case
    res = run(sessions, review.resolve_create, management(), case_id)
    assert res.results[0].match_outcome is MatchOutcome.new and res.results[0].reason_code == "review_created"
    assert {r.directory_id for r in res.results} == {res.directory_id}
    assert children(sessions) == 3


def aliases_of(sessions, directory_id) -> list[str]:
    from cpbridge.directory.tables import ChildName

    with sessions() as s:
        return list(s.scalars(select(ChildName.given_names).join(Child).where(Child.directory_id == directory_id)))


def test_merge_and_undo_restore_both_children(sessions):
    number = nhs()
    a = apply(sessions, opened(identity("Amelia", "Okafor", nhs_number=number)))
    # A duplicate made by a feed that knew her by another name and sent no NHS number.
    dup_ident = identity("Precious", "Okafor", date(2015, 3, 4), postcode="LS9 6QT", line="7 Elm Road", local=("ecaf", "E-7"))
    b = apply(sessions, opened(dup_ident, source="ecaf", org="Harehills Children's Centre"))
    assert b.directory_id != a.directory_id
    mt = management()
    view = run(sessions, review.merge_children, mt, a.directory_id, b.directory_id)
    record = read(sessions, a.directory_id)
    assert len(record.involvements) == 2
    assert "Precious" in aliases_of(sessions, a.directory_id)
    assert decision_for(sessions, identity("Zed", "Nobody", local=("ecaf", "E-7"))).child_id is not None
    with sessions() as s:
        a_id = s.scalar(select(Child.id).where(Child.directory_id == a.directory_id))
        assert match_identity(s, identity(local=("ecaf", "E-7"))).child_id == a_id
        assert s.scalar(select(func.count()).select_from(ChildMatchKey).join(Child).where(Child.directory_id == b.directory_id)) == 0
    with pytest.raises(Fault):  # two different NHS numbers are two children
        c = apply(sessions, opened(identity("Zoe", "Brown", date(2012, 1, 1), nhs_number=nhs())))
        d = apply(sessions, opened(identity("Zoe", "Brown", date(2012, 1, 2), nhs_number=nhs(), postcode="S1 2AB")))
        run(sessions, review.merge_children, mt, c.directory_id, d.directory_id)

    run(sessions, review.undo_merge, mt, view.id)
    ra, rb = read(sessions, a.directory_id), read(sessions, b.directory_id)
    assert (len(ra.involvements), len(rb.involvements)) == (1, 1)
    assert "Precious" not in aliases_of(sessions, a.directory_id)
    assert [i.value for i in decision_ids(sessions, b.directory_id) if i.scheme.value == "local"] == ["E-7"]
    assert decision_for(sessions, identity(local=("ecaf", "E-7"))).child_id != a_id
    assert (ra.given_names, rb.given_names) == ("Amelia", "Precious")
    with pytest.raises(Fault):
        run(sessions, review.undo_merge, mt, view.id)


def test_review_merge_resolves_a_case(sessions):
    a, b, _held, case_id = ambiguous(sessions)
    # b and a hold different NHS numbers: refused; the case stays open.
    with pytest.raises(Fault) as info:
        run(sessions, review.resolve_merge, management(), case_id, a.directory_id, b.directory_id)
    assert info.value.code == "IdentifierConflict"
    dup = apply(sessions, opened(identity("Grace", "Turner", postcode="W1A 1AA", line="1 Street"), source="school"))
    assert dup.match_outcome is MatchOutcome.new
    res = run(sessions, review.resolve_merge, management(), case_id, a.directory_id, dup.directory_id)
    assert res.merge_id and res.directory_id == a.directory_id
    assert res.results[0].reason_code == "review_merged"
    assert len(read(sessions, a.directory_id).involvements) == 3


# --- who may see and resolve what ------------------------------------------------------------


def test_only_the_cases_authority_resolves_it_and_only_to_a_candidate(sessions):
    a, b, _held, case_id = ambiguous(sessions)  # a Leeds case, nothing shielded
    with pytest.raises(Fault) as info:
        run(sessions, review.resolve_link, management(BRADFORD), case_id, a.directory_id)
    assert info.value.code == "NotAuthorised"
    stranger = apply(sessions, opened(identity("Maisie", "Clark", date(2011, 2, 2), nhs_number=nhs(), postcode="S1 2AB")))
    with pytest.raises(Fault) as info:
        run(sessions, review.resolve_link, management(), case_id, stranger.directory_id)
    assert (info.value.code, info.value.field) == ("InvalidRequest", "child")
    assert run(sessions, review.resolve_link, management(), case_id, a.directory_id).directory_id == a.directory_id


def test_a_candidate_is_masked_by_its_own_shields_authority(sessions):
    a, b, _held, case_id = ambiguous(sessions)  # a Leeds case
    shield(sessions, b.directory_id, BRADFORD)  # one candidate shielded by another authority
    view = run(sessions, review.case, case_id, caller=management(LEEDS))
    by_id = {c.directory_id: c for c in view.candidates}
    assert by_id[b.directory_id].masked and by_id[b.directory_id].postcode is None
    assert not by_id[a.directory_id].masked
    assert not {c.directory_id: c for c in run(sessions, review.case, case_id, caller=management(BRADFORD)).candidates}[
        b.directory_id
    ].masked


def test_merges_are_listed_and_undone_only_by_the_authority_that_made_them(sessions):
    number = nhs()
    a = apply(sessions, opened(identity("Amelia", "Okafor", nhs_number=number)))
    b = apply(sessions, opened(identity("Precious", "Okafor", date(2015, 3, 4), postcode="LS9 6QT", local=("ecaf", "E-9")), source="ecaf"))
    view = run(sessions, review.merge_children, management(LEEDS), a.directory_id, b.directory_id)
    assert [m.id for m in run(sessions, review.merges, local_authority=LEEDS)] == [view.id]
    assert run(sessions, review.merges, local_authority=BRADFORD) == []
    with pytest.raises(Fault) as info:
        run(sessions, review.undo_merge, management(BRADFORD), view.id)
    assert info.value.code == "NotAuthorised"
    assert run(sessions, review.undo_merge, management(LEEDS), view.id).undone_at is not None


def test_a_case_with_no_authority_is_in_every_authoritys_queue(sessions):
    _a, _b, _held, case_id = ambiguous(sessions)
    with sessions.begin() as s:
        s.get(ReviewCase, case_id).local_authority = None
    assert [c.id for c in run(sessions, review.open_cases, BRADFORD, caller=management(BRADFORD))] == [case_id]
    assert [c.id for c in run(sessions, review.open_cases, LEEDS, caller=management(LEEDS))] == [case_id]


# --- a write's answer never depends on a shielded child's hidden fields ------------------------


def _answer(sessions, event) -> tuple:
    """What the sender is told about ``event`` (the write is rolled back, so probes stay independent)."""
    with sessions() as s:
        try:
            r = service.apply_event(s, system_caller(), event)
            return r.outcome, r.match_outcome, r.reason_code, r.directory_id is None
        finally:
            s.rollback()


#: Probes a sender may make knowing only what any search shows of the shielded child (given
#: name Harvey, born 2014-06-21): each is sent with postcodes near to and far from its home.
WRITE_PROBES = {
    "surname unknown, date of birth a digit out": ("Harvey", "Zzqa", date(2014, 6, 22)),
    "surname unknown, same birth year only": ("Harvey", "Zzqb", date(2014, 1, 3)),
    "another child born the same year": ("Yusuf", "Zzqc", date(2014, 1, 3)),
    "name and date of birth exact": ("Harvey", "Qxmarsh", date(2014, 6, 21)),
}
PROBE_POSTCODES = ["LS8 3PQ", "LS8 3AB", "LS8 1ZZ", "BD1 1AA", None]


@pytest.mark.parametrize("probe", sorted(WRITE_PROBES))
def test_a_writes_answer_does_not_tell_where_a_shielded_child_lives(probe, sessions):
    """h2: outcome and reason code are the same whatever postcode the sender gives."""
    hidden = apply(sessions, opened(identity("Harvey", "Qxmarsh", date(2014, 6, 21), line="3 Elm St")))  # LS8 3PQ
    shield(sessions, hidden.directory_id)
    given, family, dob = WRITE_PROBES[probe]
    answers = {
        pc: _answer(sessions, opened(identity(given, family, dob, postcode=pc, line="3 Elm St"), source="yot"))
        for pc in PROBE_POSTCODES
    }
    assert len(set(answers.values())) == 1, answers
    if probe == "surname unknown, date of birth a digit out":  # tipped into review by the postcode before
        assert answers["LS8 3PQ"] == (WriteOutcome.applied, MatchOutcome.new, "low_score", False)
    if probe == "name and date of birth exact":  # the shield still holds the write for review
        assert answers["BD1 1AA"] == (WriteOutcome.queued_for_review, MatchOutcome.review, "uncertain", True)
    assert children(sessions) == 1


def test_a_postcode_sector_alone_never_makes_a_shielded_child_a_candidate(sessions):
    hidden = apply(sessions, opened(identity("Harvey", "Qxmarsh", date(2014, 6, 21))))
    seen = apply(sessions, opened(identity("Priya", "Okonjo", date(2014, 9, 2))))  # same sector, same year
    shield(sessions, hidden.directory_id)
    probe = identity("Yusuf", "Zzq", date(2014, 1, 3), postcode="LS8 3AB")  # shares only ps:LS83:2014
    with sessions() as s:
        found = {dict(c.identifiers)["directory_id"] for c in store.blocked_candidates(s, probe)}
    assert found == {seen.directory_id}
    # Found through its name and date of birth, the shielded child is a candidate as before.
    with sessions() as s:
        named = store.blocked_candidates(s, identity("Harvey", "Zzq", date(2014, 6, 21), postcode="BD1 1AA"))
    assert [(dict(c.identifiers)["directory_id"], c.shielded) for c in named] == [(hidden.directory_id, True)]
