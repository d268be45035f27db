"""Who is calling: the system account (WS-Security UsernameToken) and the practitioner it acts for.

Every request carries two header blocks. ``wsse:Security`` holds a UsernameToken for
one of ``settings.directory.accounts`` (PasswordDigest, or PasswordText unless
``require_digest``); a token's nonce may be used once and its ``Created`` time must
be within five minutes of ours. ``d:onBehalfOf`` names the practitioner (the Actor
fields) and the reason code; an account limited to some organisations
(``SystemAccount.organisations``) may act only for practitioners of those, and
only then is the asserted organisation taken as verified (``Caller.organisation_verified``).
Writes are limited to the local systems the account may write for (:class:`SourceScope`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from cpbridge import soap
from cpbridge.codes import ReasonCode
from cpbridge.contract import ACTOR_HEADER, DIRECTORY_NS
from cpbridge.faults import Fault
from cpbridge.model import Actor
from cpbridge.settings import DirectorySettings, SystemAccount
from cpbridge.xmlmodel import from_xml

#: How far a token's Created time may be from the server's clock.
TOKEN_MAX_AGE = timedelta(minutes=5)


class OnBehalfOf(Actor):
    """The ``onBehalfOf`` header block: the Actor's fields, then the reason for the access."""

    reason: ReasonCode

    @property
    def actor(self) -> Actor:
        return Actor.model_validate(self.model_dump(exclude={"reason"}))


@dataclass(frozen=True)
class SourceScope:
    """The local systems (an event's ``sourceSystem``) an account may write for: those it
    lists, or, when it lists none, any system no other account lists."""

    listed: frozenset[str] = frozenset()
    listed_elsewhere: frozenset[str] = frozenset()

    @classmethod
    def of(cls, account: SystemAccount) -> SourceScope:
        return cls(frozenset(account.source_systems), account.listed_elsewhere)

    def allows(self, source_system: str) -> bool:
        if self.listed:
            return source_system in self.listed
        return source_system not in self.listed_elsewhere


@dataclass(frozen=True)
class Caller:
    """An authenticated request's principal: the system account and the practitioner."""

    account: str
    organisation: str
    actor: Actor
    reason: ReasonCode
    #: The account's local authority (ONS code): scopes shields and alerts.
    local_authority: str = ""
    #: The client's IP address as the directory saw it (audited with every access).
    source_address: str | None = None
    #: Whether ``actor.organisation`` is vouched for: the account is limited to a configured
    #: list of organisations (``SystemAccount.organisations``) and it is one of them, or it
    #: comes from the web link's own practitioner account. Only a verified organisation sees
    #: its own sensitive services (records.service_seen).
    organisation_verified: bool = False
    #: The local systems this caller may write for (None: not limited, for internal callers).
    source_systems: SourceScope | None = None


class Authenticator:
    """Checks UsernameTokens against the configured accounts, remembering nonces."""

    def __init__(self, settings: DirectorySettings, *, max_age: timedelta = TOKEN_MAX_AGE):
        settings.bind_source_systems()  # the accounts may have been edited since validation
        self.accounts: dict[str, SystemAccount] = dict(settings.accounts)
        self.require_digest = settings.require_digest
        self.max_age = max_age
        # A token is fresh for max_age either side of now, so remember nonces twice as long.
        self.nonces = soap.NonceCache(window_seconds=int(2 * max_age.total_seconds()))

    def authenticate(self, request: soap.Request) -> tuple[str, SystemAccount]:
        """The (username, account) of a request's valid UsernameToken, else a Fault."""
        token = soap.read_username_token(request)
        account = self.accounts.get(token.username)
        if account is None:
            raise Fault("NotAuthenticated", "wrong user name or password")
        soap.verify_username_token(
            token, account.secret, self.nonces, require_digest=self.require_digest, max_age=self.max_age
        )
        return token.username, account


def read_on_behalf_of(request: soap.Request) -> etree._Element:
    """The ``onBehalfOf`` header element, or Fault InvalidRequest if it is missing."""
    block = request.header_block(DIRECTORY_NS, ACTOR_HEADER)
    if block is None:
        raise Fault(
            "InvalidRequest",
            f"the SOAP header must carry {{{DIRECTORY_NS}}}{ACTOR_HEADER} naming the practitioner and reason",
            field=ACTOR_HEADER,
        )
    return block


def caller_for(username: str, account: SystemAccount, block: etree._Element) -> Caller:
    """Build the Caller from a (schema-valid) onBehalfOf block, checking the account may act for it."""
    try:
        on_behalf = from_xml(block, OnBehalfOf)
    except Fault as fault:
        raise Fault(fault.code, f"{ACTOR_HEADER}: {fault.message}", field=f"{ACTOR_HEADER}.{fault.field}") from None
    assert isinstance(on_behalf, OnBehalfOf)
    actor = on_behalf.actor
    if account.organisations and actor.organisation not in account.organisations:
        raise Fault(
            "NotAuthorised",
            f"account {username!r} may not act for practitioners of {actor.organisation!r}",
            field=f"{ACTOR_HEADER}.organisation",
        )
    return Caller(
        account=username,
        organisation=account.organisation,
        actor=actor,
        reason=on_behalf.reason,
        local_authority=account.local_authority,
        organisation_verified=bool(account.organisations),
        source_systems=SourceScope.of(account),
    )
