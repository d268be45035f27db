"""Builders for the matching tests: identities and candidates, tersely."""

from __future__ import annotations

from datetime import date

from cpbridge.codes import Gender, IdentifierScheme
from cpbridge.directory.matching.scoring import CandidateRecord
from cpbridge.model import Address, ChildIdentity, Identifier, PersonName

NHS_A = "9434765919"  # valid check digits
NHS_B = "9434765870"


def child(
    given: str = "Oliver",
    family: str = "Smith",
    dob: date = date(2015, 3, 14),
    gender: Gender = Gender.male,
    postcode: str | None = "LS1 4AB",
    line: str = "12 Oak Road",
    nhs: str | None = None,
    upn: str | None = None,
    aliases: tuple[tuple[str, str], ...] = (),
) -> ChildIdentity:
    ids = []
    if nhs:
        ids.append(Identifier(scheme=IdentifierScheme.nhs_number, value=nhs))
    if upn:
        ids.append(Identifier(scheme=IdentifierScheme.upn, value=upn))
    return ChildIdentity(
        given_names=given,
        family_name=family,
        date_of_birth=dob,
        gender=gender,
        address=Address(lines=[line], postcode=postcode) if postcode else None,
        identifiers=ids,
        aliases=[PersonName(given_names=g, family_name=f) for g, f in aliases],
    )


def record(child_id: str = "C1", shielded: bool = False, **kwargs) -> CandidateRecord:
    return CandidateRecord.from_identity(child_id, child(**kwargs), shielded=shielded)

