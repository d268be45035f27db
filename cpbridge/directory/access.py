"""Who may do what: the directory's roles, rights and the checks made on every request.

Deny by default: a role holds exactly the rights listed in :data:`RIGHTS`, and
every service function starts with :func:`require`. Roles are the
:class:`~cpbridge.codes.ActorRole` a request names in its ``onBehalfOf`` header;
a system account may assert only the roles it is configured for
(:attr:`cpbridge.settings.SystemAccount.roles`, by default ``practitioner`` and
``system``), and only for its organisations (checked in :mod:`.auth`).

The table is documented in docs/security.md; a test holds the two together.
"""

from __future__ import annotations

import hmac

from cpbridge.codes import ActorRole, StrEnum
from cpbridge.contract import ACTOR_HEADER
from cpbridge.faults import Fault
from cpbridge.settings import DirectorySettings, SystemAccount

from .auth import Caller


class Right(StrEnum):
    """One thing a role may do."""

    search_children = "search_children"
    read_child = "read_child"
    #: see the real service of a sensitive involvement of the viewer's own organisation
    see_own_sensitive_services = "see_own_sensitive_services"
    #: see the real service of every sensitive involvement
    see_all_sensitive_services = "see_all_sensitive_services"
    #: open a shielded record in full for one viewing, with a stated reason (alerted, audited)
    override_shield = "override_shield"
    #: see the hidden fields of records shielded by the caller's own authority (to broker contact)
    see_shielded_fields = "see_shielded_fields"
    #: place, review and lift shields of the caller's own authority; list them and reviews due
    manage_shields = "manage_shields"
    #: see and acknowledge the authority's alerts
    handle_alerts = "handle_alerts"
    #: resolve items in the matching review queue
    resolve_reviews = "resolve_reviews"
    #: read the access audit trail to detect misuse
    review_audit = "review_audit"
    #: create, lock and unlock practitioner accounts (never reads children)
    manage_accounts = "manage_accounts"
    #: RegisterInvolvement, EndInvolvement, Set/RemoveLeadProfessional, RecordAssessment
    write_involvements = "write_involvements"
    #: UpdateDemographics and UpdateSetting (national and local feeds only)
    write_demographics = "write_demographics"


_PRACTITIONER = frozenset(
    {Right.search_children, Right.read_child, Right.see_own_sensitive_services, Right.write_involvements}
)

#: role -> the rights it holds (anything not listed is refused).
RIGHTS: dict[ActorRole, frozenset[Right]] = {
    ActorRole.practitioner: _PRACTITIONER,
    ActorRole.shield_override: _PRACTITIONER | {Right.override_shield},
    ActorRole.management_team: frozenset(
        {
            Right.search_children,
            Right.read_child,
            Right.see_all_sensitive_services,
            Right.see_shielded_fields,
            Right.manage_shields,
            Right.handle_alerts,
            Right.resolve_reviews,
            Right.review_audit,
        }
    ),
    ActorRole.administrator: frozenset({Right.manage_accounts}),
    ActorRole.system: frozenset(
        {Right.search_children, Right.read_child, Right.write_involvements, Right.write_demographics}
    ),
}

#: SOAP operation -> the right it needs.
OPERATION_RIGHTS: dict[str, Right] = {
    "RegisterInvolvement": Right.write_involvements,
    "EndInvolvement": Right.write_involvements,
    "SetLeadProfessional": Right.write_involvements,
    "RemoveLeadProfessional": Right.write_involvements,
    "RecordAssessment": Right.write_involvements,
    "UpdateDemographics": Right.write_demographics,
    "UpdateSetting": Right.write_demographics,
    "SearchChildren": Right.search_children,
    "ReadChild": Right.read_child,
}

def has_right(caller: Caller | None, right: Right) -> bool:
    """Whether ``caller``'s role holds ``right`` (an unknown caller holds none)."""
    if caller is None:
        return False
    return right in RIGHTS.get(caller.actor.role, frozenset())


def require(caller: Caller | None, right: Right) -> None:
    """Fault NotAuthorised unless ``caller``'s role holds ``right``."""
    if not has_right(caller, right):
        role = caller.actor.role.value if caller is not None else "none"
        raise Fault("NotAuthorised", f"the role {role} does not have the right {right.value}", field=f"{ACTOR_HEADER}.role")


def require_source_system(caller: Caller, source_system: str) -> None:
    """Fault NotAuthorised unless ``caller``'s account may write for the local system
    ``source_system`` (:class:`~.auth.SourceScope`; internal callers are not limited)."""
    scope = caller.source_systems
    if scope is not None and not scope.allows(source_system):
        raise Fault(
            "NotAuthorised",
            f"account {caller.account!r} may not write for the local system {source_system!r}",
            field="sourceSystem",
        )


def require_involvement_owner(caller: Caller, registered_by: str | None) -> None:
    """Fault NotAuthorised unless ``caller``'s account registered the involvement (an
    involvement with no recorded account is claimed by the next write). The fault carries
    nothing about the involvement or its child."""
    if registered_by is not None and registered_by != caller.account:
        raise Fault(
            "NotAuthorised",
            "this involvement was registered through another account; only that account may change it",
            field="localReference",
        )


def same_organisation(a: str | None, b: str | None) -> bool:
    """Organisation names compared as people write them (case and spacing ignored)."""
    if not a or not b:
        return False
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def admit(
    username: str,
    account: SystemAccount,
    caller: Caller,
    settings: DirectorySettings,
    *,
    client_subject: str | None = None,
) -> None:
    """Check what an authenticated account asserts: the role, and its client certificate.

    * The role in ``onBehalfOf`` must be one the account is configured for
      (Fault NotAuthorised, field ``onBehalfOf.role``).
    * With ``settings.client_cert_header`` set, an account with a
      ``client_cert_subject`` must arrive through the TLS-terminating proxy with
      exactly that subject, and with ``require_client_cert`` every account needs
      one (Fault NotAuthenticated).
    """
    if caller.actor.role.value not in account.roles:
        raise Fault(
            "NotAuthorised",
            f"account {username!r} may not act in the role {caller.actor.role.value}",
            field=f"{ACTOR_HEADER}.role",
        )
    check_client_certificate(username, account, settings, client_subject)


def check_client_certificate(
    username: str, account: SystemAccount, settings: DirectorySettings, client_subject: str | None
) -> None:
    """Fault NotAuthenticated unless the proxy-verified certificate subject fits the account."""
    if not settings.client_cert_header:
        return
    expected = account.client_cert_subject
    if expected is None:
        if settings.require_client_cert:
            raise Fault("NotAuthenticated", f"account {username!r} has no client certificate configured")
        return
    if client_subject is None or not hmac.compare_digest(client_subject.strip().encode(), expected.strip().encode()):
        raise Fault("NotAuthenticated", "the client certificate does not belong to this account")
