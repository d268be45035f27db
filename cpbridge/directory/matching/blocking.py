"""Blocking keys: which directory records are worth scoring against an incoming identity.

A stored record gets at most :data:`MAX_RECORD_KEYS` short keys ``kind:value``,
kept in an indexed table ``(key, child_id)``. An incoming identity is turned
into a longer list of *query* keys (its own keys plus error variants) and the
candidates are ``SELECT child_id FROM keys WHERE key IN (...)``. Variants live
on the query side only, so they cost an index probe each and no storage.

Stored kinds (each a different way a record can still be found when the others
are wrong):

``nhs:<number>`` / ``upn:<upn>``
    trusted identifiers.
``df:<YYYYMMDD>:<soundex(family part)>``
    date of birth + family name, one per part of a double-barrelled surname
    (at most two). Survives given-name changes, nicknames, placeholders
    ("Baby") and moving house.
``dg:<YYYYMMDD>:<soundex(first given name)>``
    date of birth + given name. Survives surname changes and first-letter
    surname typos (Soundex keeps the first letter).
``ps:<postcode sector>:<YYYY>``
    postcode sector + birth year. Survives date-of-birth errors and name
    changes while the child has not moved.
plus, room permitting, ``df``/``dg`` keys of one alias.

``ps`` is an *address* key (:func:`is_address_key`): a shielded record found by
address keys alone is not a candidate (:func:`.store.blocked_candidates`), or
whether a write is held for review would tell the sender where the shielded
child lives.

Query variants: the date of birth with day and month swapped, every valid date
one digit away, and the same day/month a year either side; given and family
name swapped. Each ``df``/``dg`` key is selective (about one child per key
among 11 million), so the extra probes return few rows.
"""

from __future__ import annotations

from datetime import date

from cpbridge.codes import IdentifierScheme
from cpbridge.model import ChildIdentity

from . import normalise as nm
from .scoring import CandidateRecord

#: The most keys stored per record.
MAX_RECORD_KEYS = 8
#: Kinds of key built from the address (a shielded record hides its address).
ADDRESS_KEY_KINDS = frozenset({"ps"})
_ID_KINDS = {IdentifierScheme.nhs_number.value: "nhs", IdentifierScheme.upn.value: "upn"}


def _dob(d: date) -> str:
    return d.strftime("%Y%m%d")


def _name_keys(given: str, family: str, dobs: list[date]) -> list[str]:
    keys: list[str] = []
    fam = nm.family_tokens(family)[:2]
    giv = nm.given_tokens(given)[:1]
    for d in dobs:
        ds = _dob(d)
        keys.extend(f"df:{ds}:{nm.soundex(part)}" for part in fam)
        keys.extend(f"dg:{ds}:{nm.soundex(part)}" for part in giv)
    return keys


def _keys(
    given: str,
    family: str,
    aliases: tuple[tuple[str, str], ...],
    dob: date,
    postcode: str | None,
    identifiers: tuple[tuple[str, str], ...],
) -> list[str]:
    keys: list[str] = []
    for scheme, value in identifiers:
        kind = _ID_KINDS.get(scheme)
        if kind:
            keys.append(f"{kind}:{value.upper()}")
    keys.extend(_name_keys(given, family, [dob]))
    pc = nm.postcode_split(postcode)
    if pc:
        keys.append(f"ps:{pc[1].replace(' ', '')}:{dob.year}")
    for g, f in aliases[:1]:
        keys.extend(_name_keys(g, f, [dob]))
    return list(dict.fromkeys(keys))[:MAX_RECORD_KEYS]


def is_address_key(key: str) -> bool:
    """Whether ``key`` is built from an address (it reveals nothing about a shielded record's
    visible fields)."""
    return key.split(":", 1)[0] in ADDRESS_KEY_KINDS


def record_keys(record: CandidateRecord) -> list[str]:
    """The keys to store for a directory record (at most :data:`MAX_RECORD_KEYS`)."""
    return _keys(
        record.given_names, record.family_name, record.aliases, record.date_of_birth, record.postcode, record.identifiers
    )


def identity_keys(identity: ChildIdentity) -> list[str]:
    """The keys to store for a child first recorded from ``identity``."""
    return record_keys(CandidateRecord.from_identity("", identity))


def dob_variants(dob: date) -> list[date]:
    """The date itself, day/month swapped, one digit away, and a year either side."""
    out = [dob]
    swapped = nm.swapped_day_month(dob)
    if swapped:
        out.append(swapped)
    for years in (-1, 1):
        try:
            out.append(dob.replace(year=dob.year + years))
        except ValueError:  # 29 February
            pass
    out.extend(nm.one_digit_variants(dob))
    return list(dict.fromkeys(out))


def query_keys(identity: ChildIdentity) -> list[str]:
    """The keys to look up for an incoming identity (its own keys and their error variants)."""
    address = identity.address
    postcode = address.postcode if address else None
    keys: list[str] = []
    for ident in identity.identifiers:
        kind = _ID_KINDS.get(ident.scheme.value)
        if kind:
            keys.append(f"{kind}:{ident.value.upper()}")
    dobs = dob_variants(identity.date_of_birth)
    names = [(identity.given_names, identity.family_name)]
    names += [(a.given_names, a.family_name) for a in identity.aliases]
    for given, family in names:
        keys.extend(_name_keys(given, family, dobs))
        keys.extend(_name_keys(family, given, dobs[:1]))  # given and family exchanged
    pc = nm.postcode_split(postcode)
    if pc:
        keys.append(f"ps:{pc[1].replace(' ', '')}:{identity.date_of_birth.year}")
    return list(dict.fromkeys(keys))
