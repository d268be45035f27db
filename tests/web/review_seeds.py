"""Held matching-review cases for the web tests (imported as ``review_seeds``).

Each case arises the way it does in production: local systems' events go through
the directory's service (``service.apply_event``) and the matcher holds the one it
cannot place. Nothing is mocked; the case is found again through the review API.
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session, sessionmaker
from web_helpers import LA, ORG, PASSWORD, PIN

from cpbridge.codes import ActorRole, ReasonCode, WriteOutcome
from cpbridge.directory import accounts, review, service, shields
from cpbridge.directory.auth import Caller
from cpbridge.identifiers import nhs_check_digit
from cpbridge.model import (
    Actor,
    Address,
    ChildIdentity,
    Identifier,
    Involvement,
    InvolvementOpened,
    Practitioner,
)

LEEDS = LA
BRADFORD = "E08000032"
#: Where :func:`shielded_candidate`'s hidden child lives, by the authority that shields it.
HIDDEN_POSTCODES = {LEEDS: "LS8 3PQ", BRADFORD: "BD8 7PQ"}

_counter = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)


def nhs() -> str:
    """A valid NHS number not used before in this run."""
    while True:
        nine = f"{next(_counter) % 10**9:09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return nine + str(check)


def system(la: str = LEEDS) -> Caller:
    """A local system's adapter account."""
    return Caller(
        account="adapter",
        organisation=ORG,
        actor=Actor(user_id="svc-feed", organisation=ORG, role=ActorRole.system),
        reason=ReasonCode.record_update,
        local_authority=la,
    )


def manager(la: str = LEEDS, user: str = "mgr-seed") -> Caller:
    return Caller(
        account="web-link",
        organisation=ORG,
        actor=Actor(user_id=user, name="Seed Manager", organisation=ORG, role=ActorRole.management_team),
        reason=ReasonCode.brokering_contact,
        local_authority=la,
    )


def add_manager(sessions: sessionmaker[Session], user_id: str, la: str, name: str) -> None:
    """A management-team account of authority ``la`` (web_helpers.add_user makes Leeds ones)."""
    with sessions.begin() as db:
        accounts.add_account(
            db, user_id=user_id, name=name, organisation=ORG, local_authority=la, roles=["management_team"],
            password=PASSWORD, pin=PIN,
        )  # fmt: skip


def identity(
    given: str, family: str, dob: date = date(2015, 3, 4), *, postcode: str | None = "LS8 3PQ", line: str = "14 Beech Grove",
    nhs_number: str | None = None, local: tuple[str, str] | None = None, gender: str = "female",
) -> ChildIdentity:  # fmt: skip
    ids = [Identifier(scheme="nhs_number", value=nhs_number)] if nhs_number else []
    if local:
        ids.append(Identifier(scheme="local", system=local[0], value=local[1]))
    return ChildIdentity(
        given_names=given, family_name=family, date_of_birth=dob, gender=gender,
        address=Address(lines=[line, "Leeds"], postcode=postcode) if postcode else None, identifiers=ids,
    )  # fmt: skip


def opened(
    child: ChildIdentity, source: str, practitioner: str, organisation: str, service_code: str = "social_care",
    role: str = "social_worker",
) -> InvolvementOpened:  # fmt: skip
    return InvolvementOpened(
        event_id=f"ev-{uuid.uuid4().hex[:24]}",
        source_system=source,
        occurred_at=datetime(2024, 5, 1, 9, tzinfo=UTC),
        child=child,
        involvement=Involvement(
            local_reference=f"R-{uuid.uuid4().hex[:10]}",
            service=service_code,
            organisation=organisation,
            practitioner=Practitioner(name=practitioner, role=role, phone="0113 222 3333"),
            start_date=date(2024, 4, 30),
        ),
    )


def apply(sessions: sessionmaker[Session], event, caller: Caller | None = None):
    with sessions.begin() as db:
        return service.apply_event(db, caller or system(), event)


@dataclass(frozen=True)
class HeldCase:
    """A case waiting for review: its number, the candidates' directory IDs (best first) and the
    practitioner whose involvement the held event opens."""

    case_id: int
    reason: str
    candidates: tuple[str, ...]
    practitioner: str
    organisation: str
    family_name: str


def _held(sessions, result, family: str, practitioner: str, organisation: str) -> HeldCase:
    assert result.outcome is WriteOutcome.queued_for_review, result
    with sessions() as db:
        summary = [c for c in review.open_cases(db) if c.family_name == family][-1]
        view = review.case(db, summary.id)
    return HeldCase(
        view.id, view.reason_code, tuple(c.directory_id for c in view.candidates), practitioner, organisation, family
    )


def duplicate_pair(sessions, family: str = "Okafor") -> HeldCase:
    """Too close to call between two records that are one child: "Amelia" (with her NHS number,
    from children's social care) and "Precious" (a duplicate the eCAF feed made from her middle
    name). The youth offending team then sends "Amelia Precious"."""
    apply(sessions, opened(identity("Amelia", family, nhs_number=nhs()), "ics", "Sam Patel", "Leeds Children's Social Work Service"))
    apply(
        sessions,
        opened(identity("Precious", family, postcode="LS9 6QT", line="7 Elm Road", local=("ecaf", f"E-{family}")), "ecaf",
               "Jo Lee", "Harehills Children's Centre", "early_help", "caf_assessor"),
    )  # fmt: skip
    held = apply(sessions, opened(identity("Amelia Precious", family, postcode=None), "yot", "Dana Reid", "Leeds Youth Justice Service", "youth_offending", "case_manager"))
    case = _held(sessions, held, family, "Dana Reid", "Leeds Youth Justice Service")
    assert case.reason == "too_close_to_call" and len(case.candidates) == 2, case
    return case


def uncertain(sessions, family: str = "Turner") -> HeldCase:
    """A school's record of "Sophie" with day and month of birth swapped and a new address:
    not close enough to match automatically."""
    apply(sessions, opened(identity("Sophie", family, nhs_number=nhs()), "ics", "Sam Patel", "Leeds Children's Social Work Service"))
    moved = identity("Sophie", family, date(2015, 4, 3), postcode="M1 1AE", line="3 Canal Street")
    held = apply(sessions, opened(moved, "school", "Ravi Shah", "Park Lane Primary School", "education_welfare", "designated_safeguarding_lead"))
    case = _held(sessions, held, family, "Ravi Shah", "Park Lane Primary School")
    assert case.reason == "uncertain" and len(case.candidates) == 1, case
    return case


def identifier_conflict(sessions, family: str = "Price") -> HeldCase:
    """Identical demographics, two different NHS numbers: the GP's "Noah" is another child."""
    apply(sessions, opened(identity("Noah", family, date(2016, 1, 9), gender="male", nhs_number=nhs()), "ics", "Sam Patel", "Leeds Children's Social Work Service"))
    held = apply(
        sessions, opened(identity("Noah", family, date(2016, 1, 9), gender="male", nhs_number=nhs()), "chis", "Kay Moss", "Leeds Health Visiting", "health_visiting", "health_visitor"),
    )  # fmt: skip
    case = _held(sessions, held, family, "Kay Moss", "Leeds Health Visiting")
    assert case.reason == "identifier_conflict", case
    return case


def shielded_candidate(sessions, family: str = "Marsh", shield_la: str = BRADFORD) -> HeldCase:
    """A weak match (day and month swapped, another address) to a child ``shield_la`` shielded:
    the case belongs to ``shield_la``'s team; the Leeds sender is told only "uncertain"."""
    # A shield is placed by the child's own authority: the child lives in ``shield_la``.
    home = identity("Lily", family, nhs_number=nhs(), postcode=HIDDEN_POSTCODES[shield_la])
    hidden = apply(sessions, opened(home, "ics", "Sam Patel", "Bradford Children's Services"))
    with sessions.begin() as db:
        shields.place(db, manager(shield_la), hidden.directory_id, "domestic_violence")
    weak = identity("Lily", family, date(2015, 4, 3), postcode="M1 1AE", line="3 Canal Street")
    held = apply(sessions, opened(weak, "chis", "Kay Moss", "Leeds Health Visiting", "health_visiting", "health_visitor"))
    assert held.reason_code == "uncertain"
    case = _held(sessions, held, family, "Kay Moss", "Leeds Health Visiting")
    assert case.reason == "shielded_candidate", case
    return case


def involvements_of(sessions, directory_id: str, la: str = LEEDS) -> list[tuple[str, str]]:
    """(practitioner, organisation) of each involvement on the record, read as ``la``'s management team."""
    with sessions.begin() as db:
        record = service.read_child(db, manager(la), service.ReadChildRequest(directory_id=directory_id))
    assert not record.shielded or record.address is not None, "read as an authority that does not see the shield"
    return [(i.practitioner.name if i.practitioner else "", i.organisation) for i in record.involvements]
