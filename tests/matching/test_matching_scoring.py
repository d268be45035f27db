"""Field comparisons and decisions: each rule the directory relies on."""

from dataclasses import replace
from datetime import date

import pytest

from cpbridge.codes import Gender, MatchOutcome
from cpbridge.directory.matching.scoring import (
    DEFAULT_THRESHOLDS,
    WEIGHTS,
    CandidateRecord,
    NameFrequencies,
    Thresholds,
    compare,
    decide,
    family_level,
    given_level,
)

from .helpers import NHS_A, NHS_B, child, record

EVERY_FIELD = {"given_names", "family_name", "date_of_birth", "gender", "postcode", "address", "nhs_number", "upn"}


def test_exact_copy_matches():
    d = decide(child(), [record("C1")])
    assert (d.outcome, d.child_id, d.reason) == (MatchOutcome.matched, "C1", "match")


def test_no_candidates_is_new():
    assert decide(child(), []).outcome is MatchOutcome.new


def test_evidence_lists_every_field_with_both_values():
    comp = compare(child(nhs=NHS_A), record("C1", given="Olly", postcode="LS1 4AD"))
    assert {e.field for e in comp.evidence} == EVERY_FIELD
    by = {e.field: e for e in comp.evidence}
    assert (by["given_names"].level, by["given_names"].incoming, by["given_names"].candidate) == ("nickname", "Oliver", "Olly")
    assert (by["postcode"].level, by["postcode"].incoming, by["postcode"].candidate) == ("sector", "LS1 4AB", "LS1 4AD")
    assert by["nhs_number"].level == "missing" and by["nhs_number"].incoming == NHS_A
    assert comp.weight == pytest.approx(sum(e.weight for e in comp.evidence), abs=0.05)
    assert 0.0 <= comp.score <= 1.0


@pytest.mark.parametrize("nick, formal", [("Bill", "William"), ("Liz", "Elizabeth"), ("Alfie", "Alfred"), ("Mo", "Muhammad")])
def test_nicknames_match(nick, formal):
    d = decide(child(given=nick), [record("C1", given=formal)])
    assert d.outcome is MatchOutcome.matched
    assert d.best.level("given_names") == "nickname"


def test_day_month_swap_matches_or_reviews():
    d = decide(child(dob=date(2015, 4, 3)), [record("C1", dob=date(2015, 3, 4))])
    assert d.best.level("date_of_birth") == "day_month_swapped"
    assert d.outcome in (MatchOutcome.matched, MatchOutcome.review)


@pytest.mark.parametrize(
    "incoming, stored, level",
    [(date(2015, 3, 19), date(2015, 3, 14), "one_digit"), (date(2016, 3, 14), date(2015, 3, 14), "year_off_by_one"), (date(2012, 8, 1), date(2015, 3, 14), "disagree")],
)
def test_date_of_birth_levels(incoming, stored, level):
    assert compare(child(dob=incoming), record(dob=stored)).level("date_of_birth") == level


def test_twins_stay_two_children():
    # Same surname, address, date of birth and gender; different given names.
    twin_a = record("A", given="Oliver")
    d = decide(child(given="George"), [twin_a])
    assert d.outcome is MatchOutcome.new
    assert d.best.level("given_names") == "disagree"
    # With both twins on the directory, each finds itself, never the other.
    both = [twin_a, record("B", given="George")]
    assert decide(child(given="George"), both).child_id == "B"
    assert decide(child(given="Oliver"), both).child_id == "A"


def test_twins_with_similar_names_are_never_auto_matched():
    d = decide(child(given="Ava"), [record("A", given="Eva")])
    assert d.outcome is not MatchOutcome.matched
    assert d.reason == "possible_twin"


def test_a_typo_in_the_given_name_still_matches_with_an_agreeing_nhs_number():
    d = decide(child(given="Olivr", nhs=NHS_A), [record("C1", nhs=NHS_A)])
    assert d.outcome is MatchOutcome.matched


def test_siblings_never_merge():
    sibling = record("S", given="Amelia", gender=Gender.female, dob=date(2012, 6, 1))
    d = decide(child(), [sibling])
    assert d.outcome is MatchOutcome.new


def test_different_nhs_numbers_never_auto_match():
    d = decide(child(nhs=NHS_A), [record("C1", nhs=NHS_B)])
    assert d.outcome is not MatchOutcome.matched
    assert d.best.veto
    assert d.best.level("nhs_number") == "conflict"


def test_temporary_upns_do_not_veto():
    comp = compare(child(upn="H801200001001"), record(upn="V80120000100T"))
    assert comp.level("upn") == "different"
    assert not comp.veto
    assert compare(child(upn="H801200001001"), record(upn="H801200001001")).level("upn") == "agree"


def test_agreeing_nhs_number_is_strong_evidence():
    comp = compare(child(given="Baby", postcode="M1 1AA", nhs=NHS_A), record("C1", nhs=NHS_A))
    assert comp.level("nhs_number") == "agree"
    assert comp.score > 0.999


@pytest.mark.parametrize("placeholder", ["Baby", "Baby Boy", "Twin A", "BB", "Unknown"])
def test_placeholder_given_name_is_ignored(placeholder):
    d = decide(child(given=placeholder), [record("C1")])
    assert d.best.level("given_names") == "missing"
    assert d.best.evidence[0].weight == 0
    assert d.outcome is MatchOutcome.matched


def test_placeholder_does_not_make_twins_one_child():
    # "Baby Smith" born today matches a newborn, but two newborn twins are too close to call.
    d = decide(child(given="Baby"), [record("A", given="Oliver"), record("B", given="George")])
    assert d.outcome is MatchOutcome.review
    assert d.reason == "too_close_to_call"


@pytest.mark.parametrize(
    "incoming, stored, level",
    [("Smith-Jones", "Smith", "part"), ("Jones", "Smith-Jones", "part"), ("Smith Jones", "Smith-Jones", "exact"), ("SmithJones", "Smith-Jones", "exact")],
)
def test_double_barrelled_surnames(incoming, stored, level):
    d = decide(child(family=incoming), [record("C1", family=stored)])
    assert d.best.level("family_name") == level
    assert d.outcome is MatchOutcome.matched


def test_given_family_swap_is_detected():
    d = decide(child(given="Kowalski", family="Jakub"), [record("C1", given="Jakub", family="Kowalski")])
    assert d.best.level("given_names") == d.best.level("family_name") == "swapped"
    assert d.outcome is MatchOutcome.matched


def test_aliases_are_compared():
    d = decide(child(given="Sophie", family="Nowak"), [record("C1", given="Zofia", family="Kowalska", aliases=(("Sophie", "Nowak"),))])
    assert d.best.level("given_names") == "exact" and d.best.level("family_name") == "exact"
    assert d.outcome is MatchOutcome.matched


def test_shielded_candidates_always_go_to_review():
    d = decide(child(nhs=NHS_A), [record("C1", shielded=True, nhs=NHS_A)])
    assert (d.outcome, d.reason) == (MatchOutcome.review, "shielded_candidate")
    assert d.candidates[0].shielded


def test_a_weak_shielded_candidate_still_blocks_a_new_record():
    # Moved house, different surname spelling, DOB a digit out: weak, but it may be the shielded child.
    shielded = record("S", shielded=True, family="Smyth", dob=date(2015, 3, 19), postcode="M1 1AA", line="1 Elm Close")
    d = decide(child(), [shielded])
    assert (d.outcome, d.reason) == (MatchOutcome.review, "shielded_candidate")
    # Without the shield the same evidence would not block a new record.
    assert decide(child(), [replace(shielded, shielded=False)]).outcome is not MatchOutcome.matched


def test_a_shielded_candidate_is_decided_on_its_visible_fields_only():
    """Where the shielded child lives must not change the decision (h2): the postcode that
    tipped this weak candidate into review before is left out; the review queue still gets
    the full evidence for the shielding authority."""
    shielded = record("S", shielded=True, family="Qx", dob=date(2015, 3, 14), postcode="LS8 3PQ", line="3 Elm Street")
    probes = [child(family="Zz", dob=date(2015, 3, 15), postcode=pc, line=line)
              for pc, line in [("LS8 3PQ", "3 Elm Street"), ("LS8 3AB", "9 Oak Road"), ("BD1 1AA", "1 Mill Lane"), (None, "")]]
    decisions = [decide(p, [shielded]) for p in probes]
    assert {(d.outcome, d.reason) for d in decisions} == {(MatchOutcome.new, "low_score")}
    # The same evidence on an unshielded record does count the postcode.
    assert compare(probes[0], replace(shielded, shielded=False)).weight > compare(probes[2], replace(shielded, shielded=False)).weight
    assert decisions[0].candidates[0].level("postcode") == "full"
    strong = [decide(p.model_copy(update={"family_name": "Qx"}), [shielded]) for p in probes]
    assert {(d.outcome, d.reason) for d in strong} == {(MatchOutcome.review, "shielded_candidate")}
    assert strong[0].candidates[0].weight - strong[2].candidates[0].weight > 10  # full weights, postcode included


def test_a_shielded_candidates_address_cannot_hold_back_another_childs_match():
    # A clear match, and a shielded child weak on the visible fields (surname differs, date of
    # birth a digit out) who lives at the incoming address: the match goes ahead wherever the
    # incoming child lives.
    clear = record("A", postcode="M1 1AA", line="1 Elm Close")
    shielded = record("S", shielded=True, family="Jones", dob=date(2015, 3, 15))  # LS1 4AB, 12 Oak Road
    for incoming in (child(), child(postcode="BD1 1AA", line="2 Mill Lane")):
        d = decide(incoming, [clear, shielded])
        assert (d.outcome, d.reason, d.child_id) == (MatchOutcome.matched, "match", "A")


def test_unrelated_shielded_candidate_is_not_reported():
    other = record("S", shielded=True, given="Amelia", family="Patel", dob=date(2010, 1, 2), gender=Gender.female, postcode="M1 1AA")
    d = decide(child(), [other])
    assert d.outcome is MatchOutcome.new


def test_too_close_to_call_goes_to_review():
    a = record("A", postcode="M1 1AA", line="1 Elm Close")
    b = record("B", postcode="B1 1AA", line="9 Ash Road")
    d = decide(child(postcode="L1 1AA", line="5 Bay Street"), [a, b])
    assert (d.outcome, d.reason) == (MatchOutcome.review, "too_close_to_call")
    assert {c.child_id for c in d.candidates} == {"A", "B"}


def test_uncertain_band_goes_to_review():
    # Moved, surname typo and a nickname: plausible, not certain.
    d = decide(
        child(given="Bill", family="Kowalsky", postcode="M1 1AA", line="1 Elm Close"),
        [record("C1", given="William", family="Kowalski")],
    )
    assert d.outcome is MatchOutcome.review
    assert d.reason == "uncertain"


def test_common_names_weigh_less_with_frequencies():
    common = CandidateRecord("X", "Muhammad", "Khan", date(2015, 3, 14))
    freq = NameFrequencies({"MUHAMMAD": 500, "OLUWADARASIMI": 1}, {"KHAN": 800}, 10_000)
    c_common = compare(child(given="Muhammad", family="Khan"), common, freq)
    c_plain = compare(child(given="Muhammad", family="Khan"), common)
    assert c_common.weight < c_plain.weight
    assert c_common.evidence[0].weight < WEIGHTS["given_names"]["exact"]


@pytest.mark.parametrize(
    "a, b, level",
    [
        (("MARY",), ("MARY", "JANE"), "part"),
        (("OLIVR",), ("OLIVER",), "jaro_winkler"),
        (("EVA",), ("AVA",), "typo"),
        (("J",), ("JOHN",), "initial"),
        (("CARYS",), ("KARIS",), "phonetic"),
        (("OLIVER",), ("GEORGE",), "disagree"),
        ((), ("GEORGE",), "missing"),
    ],
)
def test_given_levels(a, b, level):
    assert given_level(a, b) == level


def test_family_levels():
    assert family_level(("THOMPSON",), ("THOMSON",)) == "jaro_winkler"
    assert family_level(("SMITH",), ("PATEL",)) == "disagree"


def test_thresholds_are_validated():
    with pytest.raises(ValueError):
        Thresholds(match=0.5, review=0.9)
    assert DEFAULT_THRESHOLDS.match == 0.95


def test_twins_sharing_a_middle_name_stay_two_children():
    assert given_level(("MOHAMMED", "HARRISON"), ("UMAR", "HARRISON")) == "disagree"
    assert decide(child(given="Mohammed Harrison"), [record("A", given="Umar Harrison")]).outcome is MatchOutcome.new


def test_known_by_a_middle_name_or_its_nickname():
    assert given_level(("JAMES",), ("WILLIAM", "JAMES")) == "part"
    assert given_level(("JIM",), ("WILLIAM", "JAMES")) == "part"
