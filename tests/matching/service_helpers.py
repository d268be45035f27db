"""Builders for the matching tests that go through the directory's service."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, date, datetime

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.directory import service
from cpbridge.directory.auth import Caller
from cpbridge.identifiers import nhs_check_digit
from cpbridge.model import (
    Actor,
    Address,
    ChildIdentity,
    DemographicsChanged,
    Identifier,
    Involvement,
    InvolvementOpened,
    Practitioner,
)

LEEDS = "E08000035"
BRADFORD = "E08000032"
ORG = "Leeds City Council"

_counter = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)


def nhs() -> str:
    while True:
        nine = f"{next(_counter) % 10**9:09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return nine + str(check)


def fresh_id(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:20]}"


def identity(
    given: str = "Amelia",
    family: str = "Okafor",
    dob: date = date(2015, 3, 4),
    *,
    gender: str = "female",
    postcode: str | None = "LS8 3PQ",
    line: str = "14 Beech Grove",
    nhs_number: str | None = None,
    local: tuple[str, str] | None = None,
) -> ChildIdentity:
    ids = []
    if nhs_number:
        ids.append(Identifier(scheme="nhs_number", value=nhs_number))
    if local:
        ids.append(Identifier(scheme="local", system=local[0], value=local[1]))
    return ChildIdentity(
        given_names=given,
        family_name=family,
        date_of_birth=dob,
        gender=gender,
        address=Address(lines=[line, "Leeds"], postcode=postcode) if postcode else None,
        identifiers=ids,
    )


def system_caller(la: str = LEEDS) -> Caller:
    return Caller(
        account="adapter",
        organisation=ORG,
        actor=Actor(user_id="svc-ics", organisation=ORG, role=ActorRole.system),
        reason=ReasonCode.record_update,
        local_authority=la,
    )


def management(la: str = LEEDS, user: str = "mt-jones") -> Caller:
    return Caller(
        account="web",
        organisation=ORG,
        actor=Actor(user_id=user, name="Pat Jones", organisation=ORG, role=ActorRole.management_team),
        reason=ReasonCode.case_coordination,
        local_authority=la,
    )


def opened(child: ChildIdentity, *, source: str = "ics", ref: str | None = None, day: int = 1, org: str = ORG) -> InvolvementOpened:
    return InvolvementOpened(
        event_id=fresh_id(),
        source_system=source,
        occurred_at=datetime(2024, 5, day, 9, tzinfo=UTC),
        child=child,
        involvement=Involvement(
            local_reference=ref or fresh_id("REF"),
            service="social_care",
            organisation=org,
            practitioner=Practitioner(name="Jo Bloggs", role="social_worker", phone="0113 222 3333"),
            start_date=date(2024, 4, 30),
        ),
    )


def demographics(child: ChildIdentity, *, source: str = "gp", day: int = 2) -> DemographicsChanged:
    return DemographicsChanged(
        event_id=fresh_id(), source_system=source, occurred_at=datetime(2024, 5, day, 9, tzinfo=UTC), child=child
    )


def apply(sessions, event, caller: Caller | None = None):
    with sessions.begin() as s:
        return service.apply_event(s, caller or system_caller(), event)


def run(sessions, fn, *args, **kwargs):
    with sessions.begin() as s:
        return fn(s, *args, **kwargs)
