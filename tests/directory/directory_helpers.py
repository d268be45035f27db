"""Builders for the directory's tests: fresh identities and one realistic instance of every event.

Imported by the tests and conftest as ``directory_helpers`` (a unique module name, as
pytest puts this folder on sys.path).
"""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timezone

from cpbridge.identifiers import nhs_check_digit, upn_check_letter
from cpbridge.model import (
    Address,
    AssessmentCompleted,
    Carer,
    ChildIdentity,
    DemographicsChanged,
    Identifier,
    Involvement,
    InvolvementChanged,
    InvolvementClosed,
    InvolvementOpened,
    LeadProfessionalRemoved,
    LeadProfessionalSet,
    PersonName,
    Practitioner,
    Setting,
    SettingChanged,
)

ORG = "Leeds City Council"
SECRET = "adapter-secret"

# --- identities -----------------------------------------------------------------------

_counter = itertools.count(int(uuid.uuid4().int % 10**6) * 1000)


def fresh_nhs_number() -> str:
    """A valid NHS number not used by another test in this run."""
    while True:
        nine = f"{next(_counter) % 10**9:09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return nine + str(check)


def fresh_upn() -> str:
    tail = f"8{next(_counter) % 10**11:011d}"[:12]
    return upn_check_letter(tail) + tail


_FAMILY = itertools.count(1)


def fresh_family_name() -> str:
    """A family name unique to this run (letters only), so searches do not collide."""
    n, letters = next(_FAMILY) + int(uuid.uuid4().int % 10**5), ""
    while n:
        n, r = divmod(n, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[r]
    return "Test" + letters


def fresh_id(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2024, 5, day, hour, 0, tzinfo=timezone.utc)


def new_identity() -> ChildIdentity:
    """A realistic child as the ICS system knows them: NHS number, UPN and ICS id."""
    return ChildIdentity(
        given_names="Amelia Rose",
        family_name=fresh_family_name(),
        aliases=[PersonName(given_names="Millie", family_name="O'Brien")],
        date_of_birth=date(2015, 3, 2),
        gender="female",
        address=Address(lines=["14 Beech Grove", "Harehills", "Leeds"], postcode="ls8 3pq"),
        identifiers=[
            Identifier(scheme="nhs_number", value=fresh_nhs_number()),
            Identifier(scheme="upn", value=fresh_upn()),
            Identifier(scheme="local", system="ics", value=fresh_id("C")),
        ],
    )


def social_worker() -> Practitioner:
    return Practitioner(
        name="Jo Bloggs",
        role="social_worker",
        team="Harehills Locality Team",
        phone="0113 222 3333",
        email="jo.bloggs@leeds.gov.uk",
    )


def opened(identity: ChildIdentity, ref: str | None = None, *, day: int = 1, source: str = "ics", **inv) -> InvolvementOpened:
    """An ICS social-care involvement opening (a fresh local reference unless ``ref``)."""
    fields = dict(
        local_reference=ref or fresh_id("REF"),
        service="social_care",
        organisation=ORG,
        practitioner=social_worker(),
        start_date=date(2024, 4, 30),
    )
    fields.update(inv)
    return InvolvementOpened(
        event_id=fresh_id(), source_system=source, occurred_at=at(day), child=identity, involvement=Involvement(**fields)
    )


def every_event(identity: ChildIdentity) -> list:
    """One realistic instance of every event class, all about ``identity``, in a sensible order.

    They share one fresh ICS involvement (``REF-...``); the assessment has its own reference.
    """
    base = dict(source_system="ics", child=identity)
    ref, caf = fresh_id("REF"), fresh_id("CAF")
    return [
        opened(identity, ref, day=1),
        InvolvementChanged(
            event_id=fresh_id(),
            occurred_at=at(2),
            involvement=Involvement(
                local_reference=ref,
                service="social_care",
                organisation=ORG,
                practitioner=social_worker(),
                start_date=date(2024, 4, 30),
                lead_professional=True,
                caf_completed_on=date(2024, 4, 29),
            ),
            **base,
        ),
        LeadProfessionalSet(event_id=fresh_id(), occurred_at=at(3), local_reference=ref, practitioner=social_worker(), **base),
        LeadProfessionalRemoved(event_id=fresh_id(), occurred_at=at(4), local_reference=ref, **base),
        AssessmentCompleted(
            event_id=fresh_id(),
            occurred_at=at(5),
            local_reference=caf,
            completed_on=date(2024, 5, 4),
            organisation="Harehills Children's Centre",
            assessor=Practitioner(name="Sam Patel", role="caf_assessor", phone="07700 900123"),
            **base,
        ),
        DemographicsChanged(
            event_id=fresh_id(),
            occurred_at=at(6),
            carers=[
                Carer(
                    given_names="Laura",
                    family_name="Smith",
                    relationship="mother",
                    phone="07700 900456",
                    email="laura.smith@example.org",
                    address=Address(lines=["14 Beech Grove", "Leeds"], postcode="LS8 3PQ"),
                    parental_responsibility=True,
                )
            ],
            **base,
        ),
        SettingChanged(
            event_id=fresh_id(),
            occurred_at=at(7),
            setting=Setting(
                kind="school",
                code="107942",
                name="Harehills Primary School",
                phone="0113 248 0000",
                address=Address(lines=["Darfield Road", "Leeds"], postcode="LS8 5DQ"),
                start_date=date(2019, 9, 4),
            ),
            **base,
        ),
        InvolvementClosed(event_id=fresh_id(), occurred_at=at(8), local_reference=ref, end_date=date(2024, 5, 8), **base),
    ]


def on_behalf_of(**overrides) -> dict:
    header = {"userId": "jbloggs", "name": "Jo Bloggs", "organisation": ORG, "role": "practitioner", "reason": "direct_work"}
    header.update(overrides)
    return {"onBehalfOf": header}
