"""Builders for the directory-rules tests (a unique module name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import itertools
import uuid
from datetime import date, datetime, timedelta, timezone

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.directory.auth import Caller
from cpbridge.identifiers import nhs_check_digit
from cpbridge.settings import DirectorySettings, Settings, SystemAccount
from cpbridge.model import (
    Actor,
    Address,
    Carer,
    ChildIdentity,
    DemographicsChanged,
    Identifier,
    Involvement,
    InvolvementOpened,
    Practitioner,
    Setting,
    SettingChanged,
)

LEEDS, BRADFORD = "E08000035", "E08000032"
ORG = "Leeds City Council"
SECRETS = {"adapter": "adapter-secret", "leeds": "leeds-secret", "bradford": "bradford-secret"}

_counter = itertools.count(int(uuid.uuid4().int % 10**6) * 1000 + 500_000_000)


def fresh_nhs_number() -> str:
    while True:
        nine = f"{next(_counter) % 10**9:09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return nine + str(check)


def fresh_name(prefix: str = "Ru") -> str:
    """A letters-only name unique to this run."""
    n, letters = uuid.uuid4().int % 26**8, ""
    while n:
        n, r = divmod(n, 26)
        letters += "abcdefghijklmnopqrstuvwxyz"[r]
    return prefix + letters


def fresh_id(prefix: str = "ev") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def at(day: int) -> datetime:
    return datetime(2024, 5, day, 9, tzinfo=timezone.utc)


GIVEN = ("Amelia Rose", "Oliver", "Priya", "Tobias", "Zainab", "Harvey", "Niamh", "Kofi", "Ingrid", "Mateusz", "Yusuf", "Beatrice")


def identity(given: str | None = None, family: str | None = None, dob: date | None = None, **extra) -> ChildIdentity:
    """A child unlike the others (random given name, family name and date of birth unless given),
    so the matcher never takes two test children for one."""
    rnd = uuid.uuid4().int
    fields = dict(
        given_names=given or GIVEN[rnd % len(GIVEN)],
        family_name=family or fresh_name(),
        date_of_birth=dob or date(2008, 1, 1) + timedelta(days=(rnd >> 8) % 3000),
        gender="female",
        address=Address(lines=["14 Beech Grove", "Harehills", "Leeds"], postcode="LS8 3PQ"),
        identifiers=[Identifier(scheme="nhs_number", value=fresh_nhs_number())],
    )
    fields.update(extra)
    return ChildIdentity(**fields)


def jo_bloggs() -> Practitioner:
    return Practitioner(name="Jo Bloggs", role="social_worker", team="Harehills Locality Team", phone="0113 222 3333")


def opened(ident: ChildIdentity, *, day: int = 1, **inv) -> InvolvementOpened:
    fields = dict(
        local_reference=fresh_id("REF"),
        service="social_care",
        organisation=ORG,
        practitioner=jo_bloggs(),
        start_date=date(2024, 4, 30),
    )
    fields.update(inv)
    return InvolvementOpened(event_id=fresh_id(), source_system="ics", occurred_at=at(day), child=ident, involvement=Involvement(**fields))


def demographics(ident: ChildIdentity, carer_family: str = "Smith", *, day: int = 2) -> DemographicsChanged:
    return DemographicsChanged(
        event_id=fresh_id(),
        source_system="ics",
        occurred_at=at(day),
        child=ident,
        carers=[Carer(given_names="Laura", family_name=carer_family, relationship="mother", phone="07700 900456")],
    )


def setting(ident: ChildIdentity, kind: str, code: str, name: str, *, day: int = 3) -> SettingChanged:
    return SettingChanged(
        event_id=fresh_id(),
        source_system="sims",
        occurred_at=at(day),
        child=ident,
        setting=Setting(kind=kind, code=code, name=name, start_date=date(2019, 9, 4)),
    )


def caller(role: str = "practitioner", *, la: str = LEEDS, organisation: str = ORG, user: str | None = None) -> Caller:
    """A Caller as the SOAP endpoint builds it (for service-level tests)."""
    return Caller(
        account="leeds" if la == LEEDS else "bradford",
        organisation=organisation,
        actor=Actor(user_id=user or fresh_id("u")[:20], name="Sam Reed", organisation=organisation, role=ActorRole(role)),
        reason=ReasonCode.direct_work,
        local_authority=la,
    )


def header(role: str = "practitioner", *, organisation: str = ORG, user: str = "jbloggs", reason: str = "direct_work") -> dict:
    return {"onBehalfOf": {"userId": user, "name": "Jo Bloggs", "organisation": organisation, "role": role, "reason": reason}}


SYSTEM = header("system", user="svc-ics", reason="record_update")


ALL_ROLES = ["practitioner", "shield_override", "management_team", "administrator", "system"]


def rules_settings(data_dir, **directory) -> Settings:
    accounts = {
        # default roles: practitioner and system only
        "adapter": SystemAccount(secret=SECRETS["adapter"], organisation=ORG, local_authority=LEEDS),
        "leeds": SystemAccount(secret=SECRETS["leeds"], organisation=ORG, local_authority=LEEDS, roles=ALL_ROLES),
        "bradford": SystemAccount(
            secret=SECRETS["bradford"], organisation="Bradford MDC", local_authority=BRADFORD, roles=["practitioner", "management_team"]
        ),
    }
    return Settings(data_dir=data_dir, directory=DirectorySettings(accounts=accounts, **directory))
