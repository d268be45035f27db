"""Seeding and signing in for the web link's tests (imported as ``web_helpers``).

Children, involvements, settings and shields are written through the directory's
own service functions, as a system feed and a management team would.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyotp
from sqlalchemy.orm import Session, sessionmaker

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.directory import accounts, service, shields
from cpbridge.directory.account_tables import PractitionerAccount
from cpbridge.directory.auth import Caller
from cpbridge.model import (
    Actor,
    Address,
    Carer,
    ChildIdentity,
    Consent,
    DemographicsChanged,
    Identifier,
    Involvement,
    InvolvementOpened,
    Practitioner,
    Setting,
    SettingChanged,
)
from cpbridge.settings import DirectorySettings, Settings, SystemAccount, WebSettings

ORG = "Leeds City Council"
LA = "E08000035"
PANEL_ACCOUNT = "ics-leeds"
PANEL_SECRET = "panel-secret-for-tests"
PASSWORD = "correct horse battery"
PIN = "4821"

SEED = Caller(
    account="adapter",
    organisation=ORG,
    actor=Actor(user_id="svc-ics", organisation=ORG, role=ActorRole.system),
    reason=ReasonCode.record_update,
    local_authority=LA,
)


def settings_for(tmp_path, db_url: str | None = None, frame_origins: list[str] | None = None) -> Settings:
    return Settings(
        data_dir=tmp_path,
        directory=DirectorySettings(
            database_url=db_url or f"sqlite:///{tmp_path / 'directory.db'}",
            web=WebSettings(secure_cookies=False),
            search_rate_per_minute=1000,
            accounts={
                "adapter": SystemAccount(secret="adapter-secret", organisation=ORG, local_authority=LA),
                PANEL_ACCOUNT: SystemAccount(
                    secret=PANEL_SECRET,
                    organisation=ORG,
                    local_authority=LA,
                    frame_origins=frame_origins or ["http://127.0.0.1:9"],
                ),
            },
        ),
    )


@dataclass
class SeededChild:
    directory_id: str
    given_names: str
    family_name: str
    date_of_birth: date
    local_reference: str


def unique_family() -> str:
    letters = "".join("abcdefghijklmnopqrstuvwxyz"[int(c, 16) % 26] for c in uuid.uuid4().hex[:6])
    return "Test" + letters


def _occurred(n: int = 0) -> datetime:
    return datetime(2024, 5, 1, 9, n, tzinfo=UTC)


def seed_child(
    sessions: sessionmaker[Session],
    *,
    given: str = "Amelia",
    family: str | None = None,
    dob: date = date(2015, 3, 27),
    sensitive: bool = False,
) -> SeededChild:
    """A child with a social worker (lead professional), a CAF by early help, a school, a GP,
    a mother, and optionally a sensitive (mental health) involvement."""
    family = family or unique_family()
    ref = f"C{uuid.uuid4().hex[:8]}"
    identity = ChildIdentity(
        given_names=given,
        family_name=family,
        date_of_birth=dob,
        gender="female",
        address=Address(lines=["12 Park Lane", "Leeds"], postcode="LS1 4AB"),
        identifiers=[Identifier(scheme="local", system="ics", value=ref)],
    )

    def event(cls, n, **fields):
        return cls(event_id=f"ev-{uuid.uuid4().hex[:24]}", source_system="ics", occurred_at=_occurred(n), child=identity, **fields)

    with sessions.begin() as db:
        result = service.register_involvement(
            db,
            SEED,
            event(
                InvolvementOpened,
                1,
                involvement=Involvement(
                    local_reference=f"{ref}-SC",
                    service="social_care",
                    organisation="Leeds Children's Social Work Service",
                    practitioner=Practitioner(
                        name="Sam Patel", role="social_worker", team="Leeds North", phone="0113 222 3333",
                        email="sam.patel@leeds.gov.uk",
                    ),
                    start_date=date(2024, 1, 10),
                    lead_professional=True,
                ),
            ),
        )
        service.register_involvement(
            db,
            SEED,
            event(
                InvolvementOpened,
                2,
                involvement=Involvement(
                    local_reference=f"{ref}-EH",
                    service="early_help",
                    organisation="Leeds Early Help Hub",
                    practitioner=Practitioner(name="Jo Lee", role="caf_assessor", phone="0113 444 5555"),
                    start_date=date(2023, 11, 2),
                    caf_completed_on=date(2023, 12, 1),
                ),
            ),
        )
        if sensitive:
            service.register_involvement(
                db,
                SEED,
                event(
                    InvolvementOpened,
                    3,
                    involvement=Involvement(
                        local_reference=f"{ref}-MH",
                        service="mental_health",
                        organisation="Leeds Community Health",
                        practitioner=Practitioner(name="Ria Kaur", role="clinician", phone="0113 666 7777"),
                        start_date=date(2024, 2, 1),
                        consent=Consent(given_by="child", recorded_on=date(2024, 2, 1)),
                    ),
                ),
            )
        service.update_setting(
            db, SEED,
            event(SettingChanged, 4, setting=Setting(kind="school", code="107000", name="Park Lane Primary School", phone="0113 888 9999")),
        )  # fmt: skip
        service.update_setting(
            db, SEED, event(SettingChanged, 5, setting=Setting(kind="gp_practice", code="B86001", name="Park Surgery")),
        )  # fmt: skip
        service.update_demographics(
            db, SEED,
            event(DemographicsChanged, 6, carers=[Carer(given_names="Laura", family_name=family, relationship="mother", phone="07700 900123")]),
        )  # fmt: skip
    return SeededChild(result.directory_id, given, family, dob, ref)


def shield(sessions: sessionmaker[Session], directory_id: str, user: str = "mgr-seed") -> None:
    manager = Caller(
        account="web-link",
        organisation=ORG,
        actor=Actor(user_id=user, name="Seed Manager", organisation=ORG, role=ActorRole.management_team),
        reason=ReasonCode.brokering_contact,
        local_authority=LA,
    )
    with sessions.begin() as db:
        shields.place(db, manager, directory_id, "domestic_violence")


def add_user(
    sessions: sessionmaker[Session], user_id: str, roles: list[str], name: str = "Pat Jones", local_authority: str = LA
) -> str:
    """Create an account; returns its TOTP secret."""
    with sessions.begin() as db:
        account, _uri = accounts.add_account(
            db, user_id=user_id, name=name, organisation=ORG, local_authority=local_authority, roles=roles, password=PASSWORD, pin=PIN
        )
        return account.totp_secret


def next_code(sessions: sessionmaker[Session], user_id: str) -> str:
    """A TOTP code the account will accept now (the next step if this one was used)."""
    with sessions() as db:
        account = db.query(PractitionerAccount).filter_by(user_id=user_id).one()
        secret, last = account.totp_secret, account.last_totp_step
    totp = pyotp.TOTP(secret)
    step = int(time.time() // 30)
    if last is not None and last >= step:
        step = last + 1
    return totp.at(step * 30)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


def sign_in(client, sessions, user_id: str) -> None:
    """Sign ``client`` (a TestClient) in as ``user_id``; asserts it reaches a signed-in page."""
    page = client.get("/web/sign-in")
    r = client.post("/web/sign-in", data={"user_id": user_id, "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303 and r.headers["location"] == "/web/sign-in/code", r.text
    page = client.get("/web/sign-in/code")
    r = client.post(
        "/web/sign-in/code", data={"pin": PIN, "code": next_code(sessions, user_id), "csrf_token": csrf_of(page.text)}
    )
    assert r.status_code == 303, r.text
