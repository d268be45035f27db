"""Practitioner accounts for the secure web link: two-factor sign-in and lock-out.

Signing in takes two steps: user name + password, then PIN + a six-digit code from
the user's authenticator (TOTP, RFC 6238, 30-second steps, one step of clock drift
either way; a code is accepted once). Every failed step counts; after
``max_failed_attempts`` the account locks for ``lockout_minutes`` (an administrator
can unlock it sooner with ``cpbridge directory users unlock``). A passed password
step does not reset the count: only a completed sign-in does, so a stolen password
does not buy unlimited guesses at the second factor.

Passwords and PINs are stored as argon2id hashes (argon2-cffi). The TOTP secret is
stored as issued: the server needs it to check codes.

:func:`caller_for_account` turns a signed-in account into the
:class:`~cpbridge.directory.auth.Caller` every directory service function takes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from cpbridge.codes import ActorRole, ReasonCode
from cpbridge.model import Actor

from .account_tables import PractitionerAccount
from .auth import Caller
from .tables import utcnow

#: The Caller.account of requests made through the secure web link.
WEB_LINK_ACCOUNT = "web-link"
#: The issuer shown in authenticator apps.
TOTP_ISSUER = "cpbridge directory"
#: Accepted clock drift, in 30-second steps, either side of now.
TOTP_WINDOW = 1
MIN_PASSWORD_LENGTH = 12
MIN_PIN_LENGTH = 4

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
#: Verified against when the user id is unknown, so timing does not reveal which ids exist.
_DUMMY_HASH = _hasher.hash("not a real password")


class SignInRefused(Exception):
    """A sign-in step failed. ``locked`` says the account is (now) locked."""

    def __init__(self, message: str, *, locked: bool = False):
        super().__init__(message)
        self.locked = locked


class AccountError(ValueError):
    """An account cannot be created or changed as asked (the message says why)."""


@dataclass(frozen=True)
class LockoutPolicy:
    max_failed_attempts: int = 5
    lockout: timedelta = timedelta(minutes=30)


WRONG_PASSWORD = "Enter a correct user name and password"
WRONG_SECOND_FACTOR = "Enter a correct PIN and security code"
LOCKED = "Your account is locked after too many failed attempts. Try again later or ask your administrator to unlock it"


# --- administration -----------------------------------------------------------------


def add_account(
    session: Session,
    *,
    user_id: str,
    name: str,
    organisation: str,
    local_authority: str,
    roles: list[str],
    password: str,
    pin: str,
    organisation_code: str | None = None,
) -> tuple[PractitionerAccount, str]:
    """Create an account; returns it and the TOTP provisioning URI (show it once)."""
    actor = _validated_actor(user_id, name, organisation, organisation_code)
    bad = [r for r in roles if r not in {x.value for x in ActorRole} or r == ActorRole.system.value]
    if not roles or bad:
        allowed = ", ".join(r.value for r in ActorRole if r is not ActorRole.system)
        raise AccountError(f"roles must be one or more of {allowed}; got {', '.join(bad) or 'none'}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
    if not (pin.isdigit() and len(pin) >= MIN_PIN_LENGTH):
        raise AccountError(f"the PIN must be at least {MIN_PIN_LENGTH} digits")
    if find_account(session, actor.user_id) is not None:
        raise AccountError(f"an account with user id {actor.user_id!r} already exists")
    secret = pyotp.random_base32()
    account = PractitionerAccount(
        user_id=actor.user_id,
        name=name,
        organisation=organisation,
        organisation_code=organisation_code,
        local_authority=local_authority,
        roles=list(dict.fromkeys(roles)),
        password_hash=_hasher.hash(password),
        pin_hash=_hasher.hash(pin),
        totp_secret=secret,
        failed_attempts=0,
    )
    session.add(account)
    session.flush()
    return account, provisioning_uri(account)


def provisioning_uri(account: PractitionerAccount) -> str:
    """The otpauth:// URI an authenticator app scans (it holds the secret: show it once)."""
    return pyotp.TOTP(account.totp_secret).provisioning_uri(name=account.user_id, issuer_name=TOTP_ISSUER)


def find_account(session: Session, user_id: str) -> PractitionerAccount | None:
    return session.scalar(select(PractitionerAccount).where(PractitionerAccount.user_id == user_id))


def list_accounts(session: Session) -> list[PractitionerAccount]:
    return list(session.scalars(select(PractitionerAccount).order_by(PractitionerAccount.user_id)))


def unlock(session: Session, user_id: str) -> PractitionerAccount:
    """Clear the lock and the failed-attempt count."""
    account = _existing(session, user_id)
    account.failed_attempts = 0
    account.locked_until = None
    return account


def reset_totp(session: Session, user_id: str) -> str:
    """Issue a new TOTP secret (the old authenticator stops working); returns the new URI."""
    account = _existing(session, user_id)
    account.totp_secret = pyotp.random_base32()
    account.last_totp_step = None
    return provisioning_uri(account)


def _existing(session: Session, user_id: str) -> PractitionerAccount:
    account = find_account(session, user_id)
    if account is None:
        raise AccountError(f"no account has user id {user_id!r}")
    return account


def _validated_actor(user_id: str, name: str, organisation: str, organisation_code: str | None) -> Actor:
    try:
        return Actor(user_id=user_id, name=name, organisation=organisation, organisation_code=organisation_code)
    except ValueError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())  # type: ignore[attr-defined]
        raise AccountError(f"not a valid account: check {fields}") from None


# --- signing in ---------------------------------------------------------------------


def check_password(
    session: Session, user_id: str, password: str, policy: LockoutPolicy, now: datetime | None = None
) -> PractitionerAccount:
    """The account if the password is right and it is not locked; else SignInRefused."""
    now = now or utcnow()
    account = find_account(session, user_id.strip())
    if account is None:
        _verify(_DUMMY_HASH, password)
        raise SignInRefused(WRONG_PASSWORD)
    _refuse_if_locked(account, now)
    if not _verify(account.password_hash, password):
        _fail(account, policy, now, WRONG_PASSWORD)
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = _hasher.hash(password)
    return account


def check_second_factor(
    session: Session,
    account: PractitionerAccount,
    pin: str,
    code: str,
    policy: LockoutPolicy,
    now: datetime | None = None,
    *,
    at: float | None = None,
) -> None:
    """Accept the PIN and a TOTP code (±1 step, each step once) and complete the sign-in.

    ``at`` is the Unix time the code is checked against (default: now)."""
    now = now or utcnow()
    _refuse_if_locked(account, now)
    pin_ok = _verify(account.pin_hash, pin.strip())
    step = _totp_step(account.totp_secret, code.replace(" ", "").strip(), time.time() if at is None else at)
    if not pin_ok or step is None or (account.last_totp_step is not None and step <= account.last_totp_step):
        _fail(account, policy, now, WRONG_SECOND_FACTOR)
    account.last_totp_step = step
    account.failed_attempts = 0
    account.locked_until = None
    account.last_login_at = now


def _totp_step(secret: str, code: str, at: float) -> int | None:
    """The time step ``code`` belongs to within the window around ``at``, or None."""
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(at // totp.interval)
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        if pyotp.utils.strings_equal(totp.at(step * totp.interval), code):
            return step
    return None


def _verify(hashed: str, secret: str) -> bool:
    try:
        return _hasher.verify(hashed, secret)
    except (VerificationError, InvalidHashError):
        return False


def _refuse_if_locked(account: PractitionerAccount, now: datetime) -> None:
    if account.locked_until is not None and account.locked_until > now:
        raise SignInRefused(LOCKED, locked=True)


def _fail(account: PractitionerAccount, policy: LockoutPolicy, now: datetime, message: str) -> None:
    if account.locked_until is not None and account.locked_until <= now:
        account.failed_attempts = 0  # an expired lock starts a fresh count
        account.locked_until = None
    account.failed_attempts += 1
    if account.failed_attempts >= policy.max_failed_attempts:
        account.locked_until = now + policy.lockout
        raise SignInRefused(LOCKED, locked=True)
    raise SignInRefused(message)


# --- acting in the directory ----------------------------------------------------------


#: The role a request is made in when the user holds several and none is asked for.
_ROLE_PREFERENCE = (ActorRole.practitioner, ActorRole.shield_override, ActorRole.management_team, ActorRole.administrator)


def has_role(account: PractitionerAccount, role: ActorRole) -> bool:
    return role.value in account.roles


def caller_for_account(account: PractitionerAccount, reason: ReasonCode, role: ActorRole | None = None) -> Caller:
    """The Caller for a request the signed-in ``account`` makes, in ``role`` (which it must hold).

    Without ``role`` the request is made in the account's first role in the order
    practitioner, shield_override, management_team, administrator.
    """
    if role is None:
        role = next(r for r in _ROLE_PREFERENCE if has_role(account, r))
    elif not has_role(account, role):
        raise PermissionError(f"account {account.user_id!r} does not hold the role {role.value}")
    actor = Actor(
        user_id=account.user_id,
        name=account.name,
        organisation=account.organisation,
        organisation_code=account.organisation_code,
        role=role,
    )
    return Caller(
        account=WEB_LINK_ACCOUNT,
        organisation=account.organisation,
        actor=actor,
        reason=reason,
        local_authority=account.local_authority,
        organisation_verified=True,  # the practitioner account's own organisation, set by an administrator
    )
