"""Tables of the audit trail, the record lifecycle and area moves.

* ``audit_log`` — one row per access or change, append-only, hash-chained
  (see :mod:`cpbridge.directory.audit`). It has no foreign key to ``children``: a
  destroyed record's audit rows stay, holding only the directory ID.
* ``audit_head`` — the single row naming the newest link of the chain; every append
  locks it, so appends are serialised on SQLite and PostgreSQL alike.
* ``record_extensions`` — consent to keep a young person on past 18
  (care leaver, learning difficulty, Connexions), recorded by the management team.
* ``child_area_moves`` — the history of a child's responsible local authority.

The columns these features add to ``children`` (``responsible_la``, ``archived_on``,
``archive_reason``) and ``involvements`` (``local_authority``) are declared in
:mod:`cpbridge.directory.tables`; all of it is created by the Alembic revision
``audit_lifecycle_0001``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base, utcnow

#: The previous hash of the first row in the chain.
GENESIS_HASH = "0" * 64


class AuditRow(Base):
    """One audited access or change. Never message content or case data: names of fields, not values."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_directory_id", "directory_id"),
        Index("ix_audit_log_user_at", "user_id", "at"),
        Index("ix_audit_log_at", "at"),
    )

    #: Position in the chain: 1, 2, 3 ... with no gaps (assigned from the head, not by the database).
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    #: The system account (WS-Security user name) or web login the request came through.
    account: Mapped[str] = mapped_column(String(100))
    #: The practitioner the request was made by or for (onBehalfOf).
    user_id: Mapped[str] = mapped_column(String(40))
    user_name: Mapped[str | None] = mapped_column(String(70))
    user_role: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str] = mapped_column(String(100))
    organisation_code: Mapped[str | None] = mapped_column(String(40))
    #: The local authority of the account the user came through.
    user_la: Mapped[str | None] = mapped_column(String(9))
    #: What was done: a SOAP operation name, or ``Archive``, ``Destroy``, ``AreaMove`` ...
    operation: Mapped[str] = mapped_column(String(40))
    #: The record: internal id and public directory ID (both empty for a search that found nothing).
    child_id: Mapped[int | None] = mapped_column(Integer)
    directory_id: Mapped[str | None] = mapped_column(String(12))
    #: The child's responsible local authority at the time.
    child_la: Mapped[str | None] = mapped_column(String(9))
    #: Names of the fields read, searched on or written (never their values).
    fields: Mapped[str | None] = mapped_column(String(300))
    reason: Mapped[str | None] = mapped_column(String(30))
    source_address: Mapped[str | None] = mapped_column(String(45))
    #: applied, duplicate, stale, read, returned, shielded, no_match, refused:<FaultCode>, done ...
    outcome: Mapped[str] = mapped_column(String(60))
    #: The event a write carried.
    event_id: Mapped[str | None] = mapped_column(String(40))
    #: Short non-personal facts: counts, LA codes, a reason for an archive.
    detail: Mapped[str | None] = mapped_column(String(200))
    #: The previous row's row_hash (GENESIS_HASH for the first row): links the chain.
    prev_hash: Mapped[str] = mapped_column(String(64))
    #: SHA-256 hex of (prev_hash + this row's canonical content).
    row_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The newest link of the chain (one row, id 1): its seq and hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    row_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RecordExtension(Base):
    """Consent to keep a young person's record past the 18th birthday."""

    __tablename__ = "record_extensions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    #: care_leaver, learning_difficulty or connexions
    reason: Mapped[str] = mapped_column(String(30))
    #: child or parent_carer
    consent_given_by: Mapped[str] = mapped_column(String(20))
    consent_given_on: Mapped[date] = mapped_column(Date)
    #: An earlier end than the reason's age limit (e.g. Connexions support ends).
    ends_on: Mapped[date | None] = mapped_column(Date, default=None)
    withdrawn_on: Mapped[date | None] = mapped_column(Date, default=None)
    recorded_by: Mapped[str] = mapped_column(String(40))
    recorded_la: Mapped[str | None] = mapped_column(String(9))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ChildAreaMove(Base):
    """A change of the child's responsible local authority (the first one has no ``from_la``)."""

    __tablename__ = "child_area_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    from_la: Mapped[str | None] = mapped_column(String(9))
    to_la: Mapped[str] = mapped_column(String(9))
    #: address (from the postcode), account (the source account's area, no known postcode)
    basis: Mapped[str] = mapped_column(String(20))
    moved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
