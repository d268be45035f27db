"""Search rules: minimum field combinations, fuzzy scoring, result limits, shields, rate limit.

:func:`run` answers SearchChildren for :func:`cpbridge.directory.service.search_children`.
In this order:

1. **Rate limit** — every search (refused ones too) takes a token from the user's
   bucket (:class:`RateLimiter`, ``directory.search_rate_per_minute``) and, if that
   admits it, from the account's bucket
   (``directory.search_rate_per_account_per_minute``: the user id is only asserted,
   so rotating it must not lift the limit); an empty bucket is Fault RateLimited.
2. **Minimum combinations** (as NHS PDS) — an identifier search needs nothing
   more. An exact search needs ``familyName`` + ``dateOfBirth``. A fuzzy search
   needs given + family + date of birth, or family + date of birth + gender +
   postcode, or given + date of birth + gender + postcode. Otherwise Fault
   SearchTooBroad naming the first missing field.
3. **Candidates and scores** — exact: current names and aliases equal after
   :func:`~cpbridge.directory.matching.name_key`, every other criterion equal,
   score 1.0. Fuzzy: names also agree by Soundex/Metaphone, by first given name,
   or transposed (given and family exchanged); the date of birth may have day and
   month swapped; a record of unknown gender still qualifies. Each field scores
   (:data:`FUZZY_SCORES`) and the score is their product; 1.0 is exact.
   Results under :data:`MIN_SCORE` are dropped.
4. **Shields** — a search using any hidden field (:data:`HIDDEN_FIELDS`) drops
   every shielded record before anything else, unless the caller may see behind
   that shield (its own authority's management team). For such a caller a
   shielded record's other names (aliases: a birth name before adoption) count
   for nothing either: it is scored on its current name alone, and dropped when
   only an alias matched. The answer is then the same as for a child that does
   not exist. Records that remain are shown as the caller may see them
   (:func:`cpbridge.directory.records.child_record`).
5. **Limits** — a person gets at most :data:`MAX_RESULTS_PERSON` matches, best
   first; a system account (role ``system``) gets one unique match or none.

There is no export: no operation returns more than these limits, and none lists
records without search criteria.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date

import jellyfish
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cpbridge.codes import ActorRole, Gender, SettingKind
from cpbridge.faults import Fault
from cpbridge.identifiers import normalise_postcode
from cpbridge.model import LookupRequest, LookupResult, SearchCriteria, SearchMatch

from . import lifecycle, shields
from .auth import Caller
from .matching import identifier_owner, name_key
from .records import child_record
from .tables import Child, ChildName

#: Criteria that only the full record holds: a search using one never finds a shielded child.
HIDDEN_FIELDS: tuple[str, ...] = ("postcode", "school_code", "gp_practice_code", "carer_family_name")
#: Criteria a shielded record still shows.
VISIBLE_FIELDS: tuple[str, ...] = ("given_names", "family_name", "date_of_birth", "gender")

#: Minimum combinations (snake_case field names).
EXACT_MINIMUM: tuple[str, ...] = ("family_name", "date_of_birth")
FUZZY_MINIMUMS: tuple[tuple[str, ...], ...] = (
    ("given_names", "family_name", "date_of_birth"),
    ("family_name", "date_of_birth", "gender", "postcode"),
    ("given_names", "date_of_birth", "gender", "postcode"),
)

#: The most matches a person (any role but ``system``) receives.
MAX_RESULTS_PERSON = 10
#: Fuzzy results scoring below this are not returned.
MIN_SCORE = 0.5

#: Score of each kind of fuzzy agreement (exact agreement scores 1.0).
FUZZY_SCORES: dict[str, float] = {
    "first_given_name": 0.9,  # "Amelia" for "Amelia Rose"
    "transposed": 0.9,  # given and family names exchanged
    "phonetic": 0.8,  # Soundex or Metaphone agree
    "day_month_swapped": 0.8,
    "gender_unknown": 0.9,  # the record's gender is unknown
}

_WIRE = {
    "given_names": "givenNames",
    "family_name": "familyName",
    "date_of_birth": "dateOfBirth",
    "gender": "gender",
    "postcode": "postcode",
}


# --- rate limit ----------------------------------------------------------------------------


class TokenBuckets:
    """A token bucket per key, in memory: ``per_minute`` tokens each, refilled evenly."""

    def __init__(self, per_minute: int, clock: Callable[[], float], what: str = "search_rate_per_minute"):
        if per_minute < 1:
            raise ValueError(f"{what} must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self.clock = clock
        self._buckets: dict[tuple[str, ...], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: tuple[str, ...]) -> bool:
        """Take one token for ``key``; False if its bucket is empty."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens < 1.0:
                self._buckets[key] = (tokens, now)
                return False
            self._buckets[key] = (tokens - 1.0, now)
            if len(self._buckets) > 100_000:  # forget nearly full buckets of idle keys
                self._buckets = {k: v for k, v in self._buckets.items() if v[0] < self.capacity - 1}
            return True


#: Without an explicit account ceiling, an account may search as often as this many busy users.
ACCOUNT_CEILING_USERS = 20


class RateLimiter:
    """Search rate limits, in memory (one set per process): a bucket per (account, user id) of
    ``per_minute`` tokens, and a bucket per account of ``per_account`` tokens (default
    :data:`ACCOUNT_CEILING_USERS` times ``per_minute``).

    The user id is only asserted by the account (``onBehalfOf``), so the per-user bucket
    alone does not bound an account that rotates user ids: the account bucket does.
    Several directory processes each keep their own buckets, so the effective limits are
    these times the number of processes behind the load balancer.
    """

    def __init__(self, per_minute: int, *, per_account: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.users = TokenBuckets(per_minute, clock)
        ceiling = per_account if per_account is not None else per_minute * ACCOUNT_CEILING_USERS
        self.accounts = TokenBuckets(ceiling, clock, "search_rate_per_account_per_minute")

    @property
    def capacity(self) -> float:
        """Searches a minute per user."""
        return self.users.capacity

    def take(self, key: tuple[str, str]) -> bool:
        """Take one token from the (account, user id) bucket; False if it is empty."""
        return self.users.take(key)

    def admit(self, account: str, user_id: str) -> str | None:
        """Take a token for one search: None if admitted, else ``"user"`` or ``"account"`` (the
        bucket that is empty). The account's token is taken only for searches the user's own
        bucket admits, so one busy user cannot use up their colleagues' share on their own."""
        if not self.users.take((account, user_id)):
            return "user"
        if not self.accounts.take((account,)):
            return "account"
        return None


#: The process's limiter; :func:`configure` replaces it from the settings.
RATE_LIMITER = RateLimiter(30)


def configure(per_minute: int, per_account: int | None = None) -> None:
    """Set the per-user and per-account search rates (called when the directory app is created)."""
    global RATE_LIMITER
    RATE_LIMITER = RateLimiter(per_minute, per_account=per_account)


def check_rate(caller: Caller) -> None:
    """Fault RateLimited when the caller's user, or their account as a whole, has used up its
    searches for now."""
    refused = RATE_LIMITER.admit(caller.account, caller.actor.user_id)
    if refused == "user":
        raise Fault("RateLimited", f"more than {int(RATE_LIMITER.capacity)} searches a minute; try again shortly")
    if refused == "account":
        raise Fault(
            "RateLimited",
            f"this system account has made more than {int(RATE_LIMITER.accounts.capacity)} searches a minute;"
            " try again shortly",
        )


# --- minimum combinations ------------------------------------------------------------------


def given_fields(criteria: SearchCriteria) -> set[str]:
    names = VISIBLE_FIELDS + HIDDEN_FIELDS
    return {n for n in names if getattr(criteria, n) is not None}


def hidden_fields_used(criteria: SearchCriteria | None) -> list[str]:
    """The hidden fields a search uses (any one keeps shielded records out of it)."""
    if criteria is None:
        return []
    return [n for n in HIDDEN_FIELDS if getattr(criteria, n) is not None]


def check_minimum(request: LookupRequest) -> None:
    """Fault SearchTooBroad unless the request meets a permitted minimum combination."""
    if request.identifiers:
        return
    crit = request.criteria
    assert crit is not None  # LookupRequest guarantees one of the two
    have = given_fields(crit)
    if not crit.fuzzy:
        missing = [f for f in EXACT_MINIMUM if f not in have]
        if missing:
            raise Fault(
                "SearchTooBroad",
                "an exact search needs at least familyName and dateOfBirth (or an identifier); missing "
                + " and ".join(_WIRE[f] for f in missing),
                field=f"criteria.{_WIRE[missing[0]]}",
            )
        return
    gaps = [[f for f in combo if f not in have] for combo in FUZZY_MINIMUMS]
    if any(not gap for gap in gaps):
        return
    nearest = min(gaps, key=len)
    combos = "; ".join(" + ".join(_WIRE[f] for f in combo) for combo in FUZZY_MINIMUMS)
    raise Fault(
        "SearchTooBroad",
        f"a fuzzy search needs one of: {combos}; the nearest lacks " + " and ".join(_WIRE[f] for f in nearest),
        field=f"criteria.{_WIRE[nearest[0]]}",
    )


# --- scoring -------------------------------------------------------------------------------


def _phonetic_codes(key: str) -> set[str]:
    joined = key.replace(" ", "")
    if not joined:
        return set()
    return {"S" + jellyfish.soundex(joined), "M" + jellyfish.metaphone(joined)}


def _given_score(wanted: str, have: str, fuzzy: bool) -> float:
    if wanted == have:
        return 1.0
    if not fuzzy:
        return 0.0
    w, h = wanted.split(), have.split()
    if w and h and w[0] == h[0]:
        return FUZZY_SCORES["first_given_name"]
    if w and h and _phonetic_codes(w[0]) & _phonetic_codes(h[0]):
        return FUZZY_SCORES["phonetic"]
    return 0.0


def _family_score(wanted: str, have: str, fuzzy: bool) -> float:
    if wanted == have:
        return 1.0
    if fuzzy and _phonetic_codes(wanted) & _phonetic_codes(have):
        return FUZZY_SCORES["phonetic"]
    return 0.0


def _names_score(child: Child, given: str | None, family: str | None, fuzzy: bool, aliases: bool = True) -> float:
    """The best agreement of the wanted names with any of the child's name forms (the current
    name only when ``aliases`` is False)."""
    forms = [(child.given_key, child.family_key)]
    if aliases:
        forms += [(n.given_key, n.family_key) for n in child.names]
    best = 0.0
    for g, f in forms:
        score = 1.0
        if given is not None:
            score *= _given_score(given, g, fuzzy)
        if family is not None:
            score *= _family_score(family, f, fuzzy)
        if fuzzy and given is not None and family is not None and score == 0.0:
            # given and family exchanged: the wanted given name is compared as a family
            # name with the child's family name, and the other way round
            crossed = _family_score(given, f, True) * _given_score(family, g, True)
            score = crossed * FUZZY_SCORES["transposed"] if crossed else 0.0
        best = max(best, score)
    return best


def _swapped(day: date) -> date | None:
    if day.day > 12 or day.day == day.month:
        return None
    try:
        return day.replace(month=day.day, day=day.month)
    except ValueError:
        return None


def _dob_score(wanted: date, have: date, fuzzy: bool) -> float:
    if wanted == have:
        return 1.0
    if fuzzy and _swapped(wanted) == have:
        return FUZZY_SCORES["day_month_swapped"]
    return 0.0


def _attends(child: Child, kinds: tuple[SettingKind, ...], code: str) -> bool:
    wanted = {k.value for k in kinds}
    return any(s.kind in wanted and s.code.upper() == code.upper() and s.end_date is None for s in child.settings)


def _names_wanted(crit: SearchCriteria) -> bool:
    return crit.given_names is not None or crit.family_name is not None


def score(child: Child, crit: SearchCriteria, *, aliases: bool = True) -> float:
    """How well ``child`` meets the criteria: 1.0 exact, 0.0 not at all. With ``aliases``
    False, only the child's current name counts (a shielded child's other names are hidden)."""
    fuzzy = crit.fuzzy
    total = 1.0
    if _names_wanted(crit):
        total *= _names_score(
            child,
            name_key(crit.given_names) if crit.given_names else None,
            name_key(crit.family_name) if crit.family_name else None,
            fuzzy,
            aliases,
        )
    if crit.date_of_birth is not None:
        total *= _dob_score(crit.date_of_birth, child.date_of_birth, fuzzy)
    if crit.gender is not None and crit.gender is not Gender.unknown and child.gender != crit.gender.value:
        total *= FUZZY_SCORES["gender_unknown"] if fuzzy and child.gender == Gender.unknown.value else 0.0
    if crit.postcode is not None and child.postcode != normalise_postcode(crit.postcode):
        total = 0.0
    if crit.school_code is not None and not _attends(child, (SettingKind.school, SettingKind.early_years), crit.school_code):
        total = 0.0
    if crit.gp_practice_code is not None and not _attends(child, (SettingKind.gp_practice,), crit.gp_practice_code):
        total = 0.0
    if crit.carer_family_name is not None and not any(c.family_key == name_key(crit.carer_family_name) for c in child.carers):
        total = 0.0
    return round(total, 4)


# --- candidates ----------------------------------------------------------------------------


def _candidates(session: Session, request: LookupRequest) -> list[Child]:
    crit = request.criteria
    if request.identifiers:
        ids = {
            owner
            for ident in request.identifiers
            if (owner := identifier_owner(session, ident.scheme, ident.value, ident.system)) is not None
        }
        query = select(Child).where(Child.id.in_(ids)) if ids else None
    else:
        assert crit is not None and crit.date_of_birth is not None
        if crit.fuzzy:
            dobs = [crit.date_of_birth] + [d for d in [_swapped(crit.date_of_birth)] if d is not None]
            query = select(Child).where(Child.date_of_birth.in_(dobs))
        else:
            assert crit.family_name is not None
            family = name_key(crit.family_name)
            by_alias = select(ChildName.child_id).where(ChildName.family_key == family)
            query = select(Child).where(
                Child.date_of_birth == crit.date_of_birth, or_(Child.family_key == family, Child.id.in_(by_alias))
            )
    if query is None:
        return []
    return list(session.scalars(query))


def run(session: Session, caller: Caller, request: LookupRequest) -> LookupResult:
    """Answer a search with every rule in the module docstring (the caller's right is checked by the service)."""
    check_rate(caller)
    check_minimum(request)
    crit = request.criteria
    floor = MIN_SCORE if crit is not None and crit.fuzzy else 1.0
    scored: list[tuple[float, Child]] = []
    by_alias: dict[int, float] = {}  # child id -> its score on the current name alone
    for child in _candidates(session, request):
        if not lifecycle.visible_to(child, caller):  # archived: management team, for a year
            continue
        s = score(child, crit) if crit is not None else 1.0
        if s >= floor:
            scored.append((s, child))
            if crit is not None and child.names and _names_wanted(crit):
                current = score(child, crit, aliases=False)
                if current != s:
                    by_alias[child.id] = current
    hidden = bool(hidden_fields_used(crit))
    if scored and (hidden or by_alias):
        # Hidden fields drop every shielded record; other names count for none.
        shielded = shields.shielded_child_ids(session, {c.id for _, c in scored} if hidden else set(by_alias))
        scored = _unshielded_scores(session, caller, scored, shielded, by_alias, floor, hidden)
    scored.sort(key=lambda sc: (-sc[0], sc[1].family_key, sc[1].given_key, sc[1].directory_id))
    if caller.actor.role is ActorRole.system:
        scored = scored[:1] if len(scored) == 1 else []
    else:
        scored = scored[:MAX_RESULTS_PERSON]
    return LookupResult(matches=[SearchMatch(score=s, record=child_record(session, c, caller)) for s, c in scored])


def _unshielded_scores(
    session: Session,
    caller: Caller,
    scored: list[tuple[float, Child]],
    shielded: set[int],
    by_alias: dict[int, float],
    floor: float,
    hidden: bool,
) -> list[tuple[float, Child]]:
    """``scored`` as a caller who may not see behind a shield must get it. A search using a
    ``hidden`` field drops every such shielded record; otherwise a shielded record matched
    through another name (``by_alias``) keeps only its current name's score, and is dropped if
    that falls below ``floor``. Either way the answer is the one for a child that has no such
    record (or no other names)."""
    kept = []
    for s, child in scored:
        if child.id in shielded and not _may_see_behind(session, caller, child):
            if hidden:
                continue
            s = by_alias.get(child.id, s)
            if s < floor:
                continue
        kept.append((s, child))
    return kept


def _may_see_behind(session: Session, caller: Caller, child: Child) -> bool:
    shield = shields.active_shield(session, child.id)
    return shield is None or shields.may_see_behind(caller, shield)
