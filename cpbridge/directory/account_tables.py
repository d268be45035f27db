"""Tables of the secure web link and the embeddable panel.

* ``practitioner_accounts`` — people who sign in to the secure web link: user id,
  name, organisation, local authority, roles, argon2id hashes of password and PIN,
  the TOTP secret, failed attempts and lock, last sign-in.
* ``web_sessions`` — server-side sessions. The browser holds a random token; only its
  SHA-256 is stored, with the CSRF token, the sign-in stage and small per-session data.
* ``embed_launches`` — panel contexts registered by a system account: the verified
  context, keyed by the SHA-256 of an opaque launch id, single use and short-lived.
  ``jti`` is unique so a signed context is accepted once.

Created by migration ``0100_web_accounts`` (its own branch off ``0001_directory``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .tables import Base, utcnow


class PractitionerAccount(Base):
    """A person who may use the secure web link."""

    __tablename__ = "practitioner_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(70))
    organisation: Mapped[str] = mapped_column(String(100))
    organisation_code: Mapped[str | None] = mapped_column(String(40), default=None)
    local_authority: Mapped[str] = mapped_column(String(20))
    #: ActorRole values, e.g. ["practitioner", "shield_override"].
    roles: Mapped[list[str]] = mapped_column(JSON)
    password_hash: Mapped[str] = mapped_column(String(200))
    pin_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str] = mapped_column(String(64))
    #: The last TOTP time step accepted (a code is accepted once).
    last_totp_step: Mapped[int | None] = mapped_column(Integer, default=None)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WebSession(Base):
    """A browser session (anonymous, half signed in, or signed in)."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("practitioner_accounts.id", ondelete="CASCADE"), index=True, default=None
    )
    #: ``anonymous``, ``password`` (password accepted, second factor due) or ``signed_in``.
    stage: Mapped[str] = mapped_column(String(12), default="anonymous")
    csrf_token: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    account: Mapped[PractitionerAccount | None] = relationship(lazy="joined")
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class EmbedLaunch(Base):
    """A panel context a system registered; opened once, before ``expires_at``."""

    __tablename__ = "embed_launches"

    launch_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(64), unique=True)
    account: Mapped[str] = mapped_column(String(100))
    #: The verified context (child reference, practitioner, reason).
    context: Mapped[dict] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
