"""Fellegi–Sunter scoring of an incoming child identity against directory candidates.

Each field is compared to an *agreement level*; each level carries a weight
``log2(m/u)`` where ``m`` is the chance of that level for two records of the same
child and ``u`` for two different children (table ``M_U``). The weights add up
to the comparison's total weight ``W`` (bits of evidence), turned into a
probability-like score by a logistic with a documented prior::

    score = 1 / (1 + 2 ** -(W + PRIOR_LOG2_ODDS))

:func:`decide` turns the scored candidates into ``matched`` / ``review`` /
``new`` with the rules the directory must keep (docs/matching.md):

* a trusted identifier (NHS number, UPN, directory ID) with the same scheme and
  a different value is a veto: that candidate is never auto-matched;
* a shielded candidate scoring above ``Thresholds.shield_review`` sends the
  record to review, so a shield can neither be silently matched nor escaped by
  creating an unshielded duplicate. A shielded candidate is scored for the
  decision on its visible fields only (:data:`HIDDEN_EVIDENCE` left out), so the
  sender's answer never depends on where the shielded child lives;
* two candidates too close to call go to review ("many match" in DfE SUI);
* same date of birth and family name with given names only one edit apart,
  phonetically alike or sharing an initial, and no agreeing trusted identifier,
  is a possible twin: review, never match.
  Different given names outright weigh heavily against (twins stay two children).

All functions are pure: no database, no clock.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import cached_property

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler

from cpbridge.codes import Gender, IdentifierScheme, MatchOutcome
from cpbridge.model import ChildIdentity

from . import normalise as nm
from .nicknames import are_nicknames

#: Jaro–Winkler similarity at or above which two names count as a typo of each other.
JW_THRESHOLD = 0.92

#: (m, u) per field and agreement level. Weights are log2(m/u); see docs/matching.md.
#: ``m``: share of true pairs at that level; ``u``: share of different-child pairs.
M_U: dict[str, dict[str, tuple[float, float]]] = {
    "given_names": {
        "exact": (0.86, 0.006),
        "part": (0.04, 0.0012),  # "Mary" vs "Mary Jane"; a shared first or middle name
        "nickname": (0.03, 0.0009),
        "swapped": (0.004, 0.00006),  # given and family names exchanged (both agree crosswise)
        "jaro_winkler": (0.03, 0.0025),
        "typo": (0.02, 0.002),  # one edit apart but below the JW threshold (short names)
        "phonetic": (0.01, 0.004),
        "initial": (0.005, 0.003),
        # Not the FS estimate (about 0.02): fields are not independent inside a
        # household. A twin agrees with its co-twin on surname, date of birth,
        # postcode and address (about +35 bits); only the given name tells them
        # apart, so its disagreement must outweigh all of that (docs/matching.md).
        "disagree": (0.000004, 0.99),
        "missing": (1.0, 1.0),
    },
    "family_name": {
        "exact": (0.88, 0.002),
        "part": (0.05, 0.0005),  # one part of a double-barrelled or hyphenated surname
        "swapped": (0.004, 0.00006),
        "jaro_winkler": (0.04, 0.003),
        "phonetic": (0.01, 0.006),
        "disagree": (0.02, 0.99),
        "missing": (1.0, 1.0),
    },
    "date_of_birth": {
        "exact": (0.92, 1 / 6600),
        "day_month_swapped": (0.015, 1 / 6600),
        "year_off_by_one": (0.01, 2 / 6600),
        "one_digit": (0.035, 30 / 6600),
        "disagree": (0.02, 0.99),
    },
    "gender": {
        "agree": (0.97, 0.5),
        "disagree": (0.01, 0.5),
        "unknown": (1.0, 1.0),
    },
    "postcode": {
        "full": (0.85, 0.0005),
        "sector": (0.03, 0.001),
        "district": (0.02, 0.01),
        "disagree": (0.1, 0.99),
        "missing": (1.0, 1.0),
    },
    "address": {
        "agree": (0.8, 0.2),  # small: mostly redundant with the postcode
        "similar": (0.1, 0.1),
        "disagree": (0.1, 0.7),
        "missing": (1.0, 1.0),
        "moved": (1.0, 1.0),  # postcode differs: the line says nothing more
    },
    "identifier": {
        "agree": (0.999, 0.000001),
        "conflict": (0.000001, 0.999),  # also a veto: see decide()
        "different": (1.0, 1.0),  # local references and temporary UPNs may change
        "missing": (1.0, 1.0),
    },
}

WEIGHTS: dict[str, dict[str, float]] = {
    f: {level: round(math.log2(m / u), 2) for level, (m, u) in levels.items()} for f, levels in M_U.items()
}

#: log2 of the prior odds that a blocked candidate is the incoming child. About
#: 2^-20: roughly one child in a million who share a block key is the same child.
PRIOR_LOG2_ODDS = -20.0

#: How far a name's own frequency may move its ``exact`` weight from the table's.
FREQUENCY_BONUS_CAP = 0.0


@dataclass(frozen=True)
class NameFrequencies:
    """How common each name is among directory records, for frequency-aware weights.

    Agreeing on "Muhammad" or "Smith" is weaker evidence than agreeing on
    "Oluwadarasimi": the ``exact`` (and family ``part``) weight becomes
    ``log2(m / share of records with that name)``, kept within
    ``FREQUENCY_BONUS_CAP`` bits above the table weight and never below 1 bit.
    Keys are folded first given tokens and folded family-name parts
    (:func:`count_key`); the directory keeps the counts, the benchmark builds
    them with :meth:`from_records`.
    """

    given: Mapping[str, int]
    family: Mapping[str, int]
    total: int

    @classmethod
    def from_records(cls, records: Iterable[CandidateRecord]) -> NameFrequencies:
        given: Counter[str] = Counter()
        family: Counter[str] = Counter()
        total = 0
        for rec in records:
            total += 1
            g = nm.given_tokens(rec.given_names)
            if g:
                given[g[0]] += 1
            family.update(set(nm.family_tokens(rec.family_name)))
        return cls(given, family, total)

    def weight(self, field_name: str, token: str) -> float | None:
        counts = self.given if field_name == "given_names" else self.family
        if not token or self.total <= 0:
            return None
        share = (counts.get(token, 0) + 1) / self.total
        m = M_U[field_name]["exact"][0]
        table = WEIGHTS[field_name]["exact"]
        return round(max(1.0, min(table + FREQUENCY_BONUS_CAP, math.log2(m / share))), 2)


#: Identifier schemes whose values are checked and stable: a different value is a veto.
TRUSTED_SCHEMES = frozenset({IdentifierScheme.nhs_number.value, IdentifierScheme.upn.value, IdentifierScheme.directory_id.value})


@dataclass(frozen=True)
class Thresholds:
    """Decision thresholds (defaults tuned on ``bench.quality``; see docs/matching.md).

    ``match``/``review`` are on the score (DfE SUI uses 0.95 and 0.85: SUI's
    review floor was lowered here because the benchmark shows true matches with
    two errors between 0.2 and 0.85 and almost no different children there).
    ``min_margin_bits`` is the least weight (log2 odds) by which the best
    candidate must beat the next one to be auto-matched. ``shield_review``: a
    shielded candidate scoring at or above it always sends the record to review.
    """

    match: float = 0.95
    review: float = 0.2
    min_margin_bits: float = 6.0
    shield_review: float = 0.0001
    max_reported: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.review <= self.match <= 1:
            raise ValueError("thresholds must satisfy 0 < review <= match <= 1")
        if not 0 <= self.shield_review <= self.review:
            raise ValueError("shield_review must lie between 0 and the review threshold")
        if self.min_margin_bits < 0:
            raise ValueError("min_margin_bits cannot be negative")


DEFAULT_THRESHOLDS = Thresholds()


# --- the records compared ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Name:
    given: tuple[str, ...]
    family: tuple[str, ...]
    given_text: str
    family_text: str


@dataclass(frozen=True, slots=True)
class Profile:
    """A record normalised once for comparison (names folded, postcode split)."""

    names: tuple[_Name, ...]
    date_of_birth: date
    gender: Gender
    postcode: tuple[str, str, str] | None
    address_line: str
    address_text: str | None
    identifiers: dict[str, frozenset[str]]


def _profile(
    given: str,
    family: str,
    aliases: Iterable[tuple[str, str]],
    dob: date,
    gender: Gender,
    postcode: str | None,
    address_line: str | None,
    identifiers: Iterable[tuple[str, str]],
) -> Profile:
    names = [_Name(nm.given_tokens(given), nm.family_tokens(family), given, family)]
    for g, f in aliases:
        names.append(_Name(nm.given_tokens(g), nm.family_tokens(f), g, f))
    ids: dict[str, set[str]] = {}
    for scheme, value in identifiers:
        ids.setdefault(scheme, set()).add(value.upper())
    return Profile(
        names=tuple(names),
        date_of_birth=dob,
        gender=gender,
        postcode=nm.postcode_split(postcode),
        address_line=nm.fold(address_line) if address_line else "",
        address_text=address_line,
        identifiers={k: frozenset(v) for k, v in ids.items()},
    )


def identifier_pairs(identity: ChildIdentity) -> tuple[tuple[str, str], ...]:
    """``(scheme key, value)`` pairs; a local reference's key is ``local:<system>``."""
    out = []
    for ident in identity.identifiers:
        key = f"local:{ident.system}" if ident.scheme is IdentifierScheme.local else ident.scheme.value
        out.append((key, ident.value))
    return tuple(out)


def profile_of(identity: ChildIdentity) -> Profile:
    """Normalise an incoming identity for comparison."""
    address = identity.address
    return _profile(
        identity.given_names,
        identity.family_name,
        ((a.given_names, a.family_name) for a in identity.aliases),
        identity.date_of_birth,
        identity.gender,
        address.postcode if address else None,
        address.lines[0] if address else None,
        identifier_pairs(identity),
    )


@dataclass(frozen=True)
class CandidateRecord:
    """What the scorer needs of a directory row.

    ``identifiers`` holds ``(scheme key, value)`` pairs as :func:`identifier_pairs`
    makes them; ``aliases`` holds ``(given names, family name)`` pairs.
    """

    child_id: int | str
    given_names: str
    family_name: str
    date_of_birth: date
    gender: Gender = Gender.unknown
    aliases: tuple[tuple[str, str], ...] = ()
    postcode: str | None = None
    address_line: str | None = None
    identifiers: tuple[tuple[str, str], ...] = ()
    shielded: bool = False

    @classmethod
    def from_identity(cls, child_id: int | str, identity: ChildIdentity, *, shielded: bool = False) -> CandidateRecord:
        address = identity.address
        return cls(
            child_id=child_id,
            given_names=identity.given_names,
            family_name=identity.family_name,
            date_of_birth=identity.date_of_birth,
            gender=identity.gender,
            aliases=tuple((a.given_names, a.family_name) for a in identity.aliases),
            postcode=address.postcode if address else None,
            address_line=address.lines[0] if address else None,
            identifiers=identifier_pairs(identity),
            shielded=shielded,
        )

    @cached_property
    def profile(self) -> Profile:
        return _profile(
            self.given_names,
            self.family_name,
            self.aliases,
            self.date_of_birth,
            self.gender,
            self.postcode,
            self.address_line,
            self.identifiers,
        )


# --- results -------------------------------------------------------------------------------

#: Evidence on fields a shielded record hides from everyone else (its address). A decision
#: about a shielded candidate never rests on it: the sender's answer would otherwise tell
#: whether the shielded child lives at the postcode sent (see :func:`decide`).
HIDDEN_EVIDENCE = frozenset({"postcode", "address"})


@dataclass(frozen=True, slots=True)
class Evidence:
    """One field's comparison, as the review queue shows it."""

    field: str
    level: str
    weight: float
    incoming: str | None
    candidate: str | None


@dataclass(frozen=True, slots=True)
class Comparison:
    """An incoming identity scored against one candidate."""

    child_id: int | str
    weight: float
    score: float
    evidence: tuple[Evidence, ...]
    veto: bool = False
    shielded: bool = False
    twin_risk: bool = False

    def level(self, field_name: str) -> str | None:
        for ev in self.evidence:
            if ev.field == field_name:
                return ev.level
        return None

    def on_visible_fields(self) -> Comparison:
        """The weight and score this comparison has without the evidence of the fields a
        shielded record hides (:data:`HIDDEN_EVIDENCE`); the evidence itself is kept."""
        weight = round(sum(ev.weight for ev in self.evidence if ev.field not in HIDDEN_EVIDENCE), 2)
        return replace(self, weight=weight, score=_logistic(weight))


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome for one incoming identity.

    ``reason``: ``match``, ``no_candidate``, ``low_score``, ``uncertain``,
    ``too_close_to_call``, ``shielded_candidate``, ``identifier_conflict`` or
    ``possible_twin``. ``candidates`` are the best comparisons (for review).
    """

    outcome: MatchOutcome
    reason: str
    child_id: int | str | None = None
    candidates: tuple[Comparison, ...] = ()

    @property
    def best(self) -> Comparison | None:
        return self.candidates[0] if self.candidates else None


# --- field comparisons ---------------------------------------------------------------------


def _token_level(a: str, b: str) -> str:
    if a == b:
        return "exact"
    if len(a) == 1 or len(b) == 1:
        return "initial" if a[0] == b[0] else "disagree"
    if are_nicknames(a, b):
        return "nickname"
    if JaroWinkler.similarity(a, b) >= JW_THRESHOLD:
        return "jaro_winkler"
    if min(len(a), len(b)) >= 3 and OSA.distance(a, b) <= 1:
        return "typo"
    if nm.sounds_alike(a, b):
        return "phonetic"
    return "disagree"


def given_level(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    """Agreement level of two placeholder-free given-name token tuples."""
    if not a or not b:
        return "missing"
    if a == b or "".join(a) == "".join(b):
        return "exact"
    sa, sb = set(a), set(b)
    if sa <= sb or sb <= sa:
        return "part"
    first = _token_level(a[0], b[0])
    if first == "exact":
        return "part"
    if first in ("nickname", "jaro_winkler", "typo"):
        return first
    if len(a) == 1 or len(b) == 1:
        # Known by a middle name (or its nickname): "Jim" for "William James". Two
        # full names sharing only a middle name ("Umar Harrison", "Mohammed
        # Harrison") are different children: twins often share a middle name.
        one, other = (a[0], b) if len(a) == 1 else (b[0], a)
        if any(one == t or are_nicknames(one, t) for t in other[1:]):
            return "part"
    joined = JaroWinkler.similarity("".join(a), "".join(b))
    return "jaro_winkler" if joined >= JW_THRESHOLD else first


def family_level(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    """Agreement level of two family-name part tuples (double-barrelled surnames split)."""
    if not a or not b:
        return "missing"
    if a == b or "".join(a) == "".join(b):
        return "exact"
    if set(a) & set(b):
        return "part"
    pairs = [("".join(a), "".join(b))] + [(x, y) for x in a for y in b]
    if any(JaroWinkler.similarity(x, y) >= JW_THRESHOLD for x, y in pairs):
        return "jaro_winkler"
    if any(nm.sounds_alike(x, y) for x, y in pairs if len(x) > 1 and len(y) > 1):
        return "phonetic"
    return "disagree"


def dob_level(a: date, b: date) -> str:
    if a == b:
        return "exact"
    if nm.swapped_day_month(a) == b:
        return "day_month_swapped"
    if a.month == b.month and a.day == b.day and abs(a.year - b.year) == 1:
        return "year_off_by_one"
    if nm.digits_differing(a, b) == 1:
        return "one_digit"
    return "disagree"


def _gender_level(a: Gender, b: Gender) -> str:
    if a is Gender.unknown or b is Gender.unknown:
        return "unknown"
    return "agree" if a is b else "disagree"


def _postcode_level(a: tuple[str, str, str] | None, b: tuple[str, str, str] | None) -> str:
    if a is None or b is None:
        return "missing"
    if a[2] == b[2]:
        return "full"
    if a[1] == b[1]:
        return "sector"
    if a[0] == b[0]:
        return "district"
    return "disagree"


def _address_level(a: str, b: str, postcode: str) -> str:
    if not a or not b:
        return "missing"
    ratio = fuzz.token_sort_ratio(a, b)
    if postcode == "disagree":
        return "agree" if ratio >= 90 else "moved"
    if ratio >= 90:
        return "agree"
    return "similar" if ratio >= 75 else "disagree"


_GOOD_NAME = {"exact", "part", "nickname"}


def _name_weights(g: str, f: str, x: _Name, y: _Name, freq: NameFrequencies | None) -> tuple[float, float]:
    wg, wf = WEIGHTS["given_names"][g], WEIGHTS["family_name"][f]
    if freq is not None:
        if g == "exact":
            wg = freq.weight("given_names", x.given[0]) or wg
        if f == "exact":
            wf = min((freq.weight("family_name", t) or wf) for t in x.family) if x.family else wf
        elif f == "part":
            shared = set(x.family) & set(y.family)
            wf = min(wf, min((freq.weight("family_name", t) or wf) for t in shared))
    return wg, wf


def _best_names(
    inc: Profile, cand: Profile, freq: NameFrequencies | None
) -> tuple[str, str, _Name, _Name, float, float]:
    """The best-agreeing pair of name forms (main name and aliases), swaps included."""
    best: tuple[str, str, _Name, _Name, float, float] | None = None
    for x in inc.names:
        for y in cand.names:
            g, f = given_level(x.given, y.given), family_level(x.family, y.family)
            if g not in _GOOD_NAME or f not in ("exact", "part"):
                # Given and family exchanged? Both must agree crosswise.
                g2 = family_level(x.given, y.family) if x.given else "missing"
                f2 = family_level(x.family, y.given) if y.given else "missing"
                if g2 in ("exact", "part") and f2 in ("exact", "part", "jaro_winkler"):
                    g, f = "swapped", "swapped"
            wg, wf = _name_weights(g, f, x, y, freq)
            if best is None or wg + wf > best[4] + best[5]:
                best = (g, f, x, y, wg, wf)
    assert best is not None
    return best


def _logistic(weight: float) -> float:
    z = weight + PRIOR_LOG2_ODDS
    if z > 60:
        return 1.0
    if z < -60:
        return 0.0
    return 1.0 / (1.0 + 2.0 ** (-z))


def _pc_text(parts: tuple[str, str, str] | None) -> str | None:
    return parts[2] if parts else None


def compare(
    incoming: Profile | ChildIdentity, candidate: CandidateRecord, frequencies: NameFrequencies | None = None
) -> Comparison:
    """Score one candidate; ``evidence`` lists every field compared, in a fixed order."""
    inc = incoming if isinstance(incoming, Profile) else profile_of(incoming)
    cand = candidate.profile
    evidence: list[Evidence] = []

    g, f, x, y, wg, wf = _best_names(inc, cand, frequencies)
    evidence.append(Evidence("given_names", g, wg, x.given_text, y.given_text))
    evidence.append(Evidence("family_name", f, wf, x.family_text, y.family_text))

    d = dob_level(inc.date_of_birth, cand.date_of_birth)
    evidence.append(
        Evidence("date_of_birth", d, WEIGHTS["date_of_birth"][d], inc.date_of_birth.isoformat(), cand.date_of_birth.isoformat())
    )
    sx = _gender_level(inc.gender, cand.gender)
    evidence.append(Evidence("gender", sx, WEIGHTS["gender"][sx], inc.gender.value, cand.gender.value))
    p = _postcode_level(inc.postcode, cand.postcode)
    evidence.append(Evidence("postcode", p, WEIGHTS["postcode"][p], _pc_text(inc.postcode), _pc_text(cand.postcode)))
    a = _address_level(inc.address_line, cand.address_line, p)
    evidence.append(Evidence("address", a, WEIGHTS["address"][a], inc.address_text, cand.address_text))

    veto = False
    wi = WEIGHTS["identifier"]
    schemes = sorted(set(inc.identifiers) | set(cand.identifiers) | {"nhs_number", "upn"})
    for scheme in schemes:
        mine, theirs = inc.identifiers.get(scheme), cand.identifiers.get(scheme)
        if not mine or not theirs:
            if scheme in TRUSTED_SCHEMES and (scheme in ("nhs_number", "upn") or mine or theirs):
                level = "missing"
            else:
                continue  # a local reference only one side has says nothing
        elif mine & theirs:
            level = "agree"
        elif scheme in TRUSTED_SCHEMES and not _temporary_upn(scheme, mine | theirs):
            level, veto = "conflict", True
        else:
            level = "different"
        evidence.append(
            Evidence(scheme, level, wi[level], ",".join(sorted(mine)) if mine else None, ",".join(sorted(theirs)) if theirs else None)
        )

    total = round(sum(ev.weight for ev in evidence), 2)
    # A co-twin holds its own NHS number and UPN: an agreeing trusted identifier rules a twin out.
    id_agree = any(ev.level == "agree" and ev.field in TRUSTED_SCHEMES for ev in evidence)
    # Agreement only through a middle name ("Harrison" vs "Arthur Harry", "Jane" vs "Mary Jane") is
    # what a co-twin with a family middle name looks like too: never auto-matched on its own.
    via_middle = g == "part" and x.given[0] != y.given[0] and not are_nicknames(x.given[0], y.given[0])
    twin_risk = (g in ("typo", "phonetic", "initial") or via_middle) and d == "exact" and f in ("exact", "part") and not id_agree
    return Comparison(
        child_id=candidate.child_id,
        weight=total,
        score=_logistic(total),
        evidence=tuple(evidence),
        veto=veto,
        shielded=candidate.shielded,
        twin_risk=twin_risk,
    )


def _temporary_upn(scheme: str, values: frozenset[str]) -> bool:
    # A temporary UPN ends in a letter and is replaced by a permanent one: no veto.
    return scheme == IdentifierScheme.upn.value and any(v[-1].isalpha() for v in values)


# --- the decision --------------------------------------------------------------------------


def decide(
    incoming: ChildIdentity | Profile,
    candidates: Sequence[CandidateRecord],
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    frequencies: NameFrequencies | None = None,
) -> Decision:
    """Match, review or new for one incoming identity against its blocked candidates."""
    inc = incoming if isinstance(incoming, Profile) else profile_of(incoming)
    # A shielded candidate is decided on its visible fields only (names, date of birth,
    # gender, identifiers); the review queue still gets its full comparison (``full``).
    full: dict[int, Comparison] = {}
    decided: list[Comparison] = []
    for candidate in candidates:
        comp = compare(inc, candidate, frequencies)
        shown = comp.on_visible_fields() if comp.shielded else comp
        full[id(shown)] = comp
        decided.append(shown)
    comps = sorted(decided, key=lambda c: (-c.weight, str(c.child_id)))
    if not comps:
        return Decision(MatchOutcome.new, "no_candidate")

    def report(cs) -> tuple[Comparison, ...]:
        return tuple(full[id(c)] for c in dict.fromkeys(cs))

    reported = tuple(c for c in comps[: thresholds.max_reported] if c.score >= thresholds.shield_review or c is comps[0])
    best = comps[0]

    def review(reason: str, shown: tuple[Comparison, ...] = reported) -> Decision:
        return Decision(MatchOutcome.review, reason, None, report(shown))

    shielded = [c for c in comps if c.shielded and c.score >= thresholds.shield_review]
    if shielded:
        return review("shielded_candidate", (*reported, *shielded[: thresholds.max_reported]))
    if best.score < thresholds.review:
        return Decision(MatchOutcome.new, "low_score", None, report(reported))
    if best.veto:
        return review("identifier_conflict")
    if len(comps) > 1 and best.weight - comps[1].weight < thresholds.min_margin_bits and comps[1].score >= thresholds.shield_review:
        return review("too_close_to_call")
    if best.twin_risk:
        return review("possible_twin")
    if best.score >= thresholds.match:
        return Decision(MatchOutcome.matched, "match", best.child_id, report(reported))
    return review("uncertain")
