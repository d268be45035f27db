"""Builders shared by tests/audit and tests/lifecycle: a live directory with two authorities.

Imported as ``audit_helpers`` (both folders' conftests put tests/audit and
tests/directory on sys.path, so ``directory_helpers`` is reused as well).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
for folder in (TESTS / "directory", TESTS / "audit"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

import zeep  # noqa: E402
from directory_helpers import ORG, SECRET, on_behalf_of  # noqa: E402
from sqlalchemy.orm import Session, sessionmaker  # noqa: E402
from zeep.wsse.username import UsernameToken  # noqa: E402

from cpbridge.codes import ActorRole, ReasonCode  # noqa: E402
from cpbridge.contract import EVENT_OPERATIONS  # noqa: E402
from cpbridge.directory.auth import Caller  # noqa: E402
from cpbridge.model import Actor  # noqa: E402
from cpbridge.settings import DirectorySettings, Settings, SystemAccount  # noqa: E402

LEEDS, BRADFORD = "E08000035", "E08000032"
ALL_ROLES = ["practitioner", "system", "shield_override", "management_team", "administrator"]

ACCOUNTS = {
    "adapter": SystemAccount(secret=SECRET, organisation=ORG, local_authority=LEEDS, roles=ALL_ROLES),
    "bradford": SystemAccount(
        secret="bradford-secret", organisation="Bradford MDC", local_authority=BRADFORD, roles=ALL_ROLES
    ),
}
SECRETS = {"adapter": SECRET, "bradford": "bradford-secret"}
ORGS = {"adapter": ORG, "bradford": "Bradford MDC"}

#: The ICS feed acting for itself.
SYSTEM = dict(userId="svc-ics", organisation=ORG, role="system", reason="record_update")


def settings_for(data_dir: Path, database_url: str | None = None) -> Settings:
    return Settings(
        data_dir=data_dir,
        directory=DirectorySettings(accounts=ACCOUNTS, database_url=database_url, search_rate_per_minute=10_000),
    )


@dataclass
class LiveDirectory:
    """A served directory, a parsed WSDL, and sessions on its database."""

    url: str
    wsdl: object
    sessions: sessionmaker[Session]

    def client(self, account: str = "adapter") -> zeep.Client:
        return zeep.Client(wsdl=self.wsdl, wsse=UsernameToken(account, SECRETS[account], use_digest=True))


def send(client: zeep.Client, event, **header):
    """Send ``event`` as the delivery client does (the ICS system account unless ``header``)."""
    wire = event.model_dump(mode="json", by_alias=True, exclude_none=True)
    op = EVENT_OPERATIONS[wire.pop("type")]
    return getattr(client.service, op)(**wire, _soapheaders=on_behalf_of(**(header or SYSTEM)))


def as_user(user_id: str = "jbloggs", organisation: str = ORG, role: str = "practitioner", **more) -> dict:
    """The onBehalfOf header of a practitioner (the helper's defaults, overridden)."""
    return on_behalf_of(userId=user_id, organisation=organisation, role=role, **more)


def caller(
    role: ActorRole = ActorRole.practitioner,
    la: str = LEEDS,
    user_id: str = "jbloggs",
    organisation: str = ORG,
    reason: ReasonCode = ReasonCode.direct_work,
) -> Caller:
    """A Caller for calling service functions directly."""
    return Caller(
        account="adapter",
        organisation=organisation,
        actor=Actor(user_id=user_id, name="Jo Bloggs", organisation=organisation, role=role),
        reason=reason,
        local_authority=la,
        source_address="127.0.0.1",
    )
