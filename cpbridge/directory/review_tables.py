"""The store's tables for the matching review queue and for merges (migration ``0400_matching_review``).

A case holds the incoming identity (canonical ChildIdentity JSON: names, date of
birth, gender, address, identifiers — no case data exists in it), the
candidates with their per-field evidence, and every event held until the
management team decides (``review_events``: the canonical event JSON and the
account that sent it). A merge keeps what its undo needs.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .tables import Base, utcnow

#: ReviewCase.status values
OPEN, LINKED, CREATED, MERGED = "open", "linked", "created", "merged"
STATUSES = (OPEN, LINKED, CREATED, MERGED)


class ReviewCase(Base):
    """One identity the matcher could not place safely, waiting for the management team."""

    __tablename__ = "review_cases"
    __table_args__ = (
        Index("ix_review_cases_status_la", "status", "local_authority"),
        Index("ix_review_cases_identity_hash", "identity_hash", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default=OPEN)
    #: MatchReason (internal: shielded_candidate is kept here, never told to the sender)
    reason_code: Mapped[str] = mapped_column(String(40))
    identity_json: Mapped[str] = mapped_column(Text)
    #: SHA-256 of identity_json: a later event with the same identity joins the open case
    identity_hash: Mapped[str] = mapped_column(String(64))
    source_system: Mapped[str] = mapped_column(String(40))
    #: the first event held
    event_id: Mapped[str] = mapped_column(String(40))
    #: the authority whose management team handles it (a shield's authority when one is involved)
    local_authority: Mapped[str | None] = mapped_column(String(20), default=None)
    shielded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(String(40), default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    #: the child the held events were applied to
    resolved_child_id: Mapped[int | None] = mapped_column(
        ForeignKey("children.id", ondelete="SET NULL"), default=None
    )
    merge_id: Mapped[int | None] = mapped_column(Integer, default=None)

    candidates: Mapped[list[ReviewCandidate]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="ReviewCandidate.rank"
    )
    events: Mapped[list[ReviewEvent]] = relationship(
        back_populates="case", cascade="all, delete-orphan", order_by="(ReviewEvent.occurred_at, ReviewEvent.id)"
    )


class ReviewCandidate(Base):
    """A directory record the identity was scored against, with the evidence per field."""

    __tablename__ = "review_candidates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"), index=True)
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id", ondelete="SET NULL"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    veto: Mapped[bool] = mapped_column(Boolean, default=False)
    shielded: Mapped[bool] = mapped_column(Boolean, default=False)
    twin_risk: Mapped[bool] = mapped_column(Boolean, default=False)
    #: [{field, level, weight, incoming, candidate}, ...] as scoring.Evidence
    evidence: Mapped[list[dict]] = mapped_column(JSON)

    case: Mapped[ReviewCase] = relationship(back_populates="candidates")


class ReviewEvent(Base):
    """An event held in a case, applied when the case is resolved."""

    __tablename__ = "review_events"
    __table_args__ = (Index("ix_review_events_source_ref", "source_system", "local_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("review_cases.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    source_system: Mapped[str] = mapped_column(String(40))
    #: the involvement's local reference, when the event is about one (later events for it join the case)
    local_reference: Mapped[str | None] = mapped_column(String(40), default=None)
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    #: canonical event JSON (camelCase wire form)
    event_json: Mapped[str] = mapped_column(Text)
    #: the sending Caller (account, organisation, actor, reason, local authority) as JSON
    caller_json: Mapped[str] = mapped_column(Text)
    held_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: after resolution: the WriteOutcome and reason code of applying it
    applied_outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    applied_reason: Mapped[str | None] = mapped_column(String(40), default=None)

    case: Mapped[ReviewCase] = relationship(back_populates="events")


class ChildMerge(Base):
    """Record ``merged_child_id`` folded into ``kept_child_id``; ``undo`` lists every row moved."""

    __tablename__ = "child_merges"
    __table_args__ = (Index("ix_child_merges_merged", "merged_child_id", "undone_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kept_child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    merged_child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"))
    kept_directory_id: Mapped[str] = mapped_column(String(12))
    merged_directory_id: Mapped[str] = mapped_column(String(12))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("review_cases.id", ondelete="SET NULL"), default=None)
    #: {"moved": {table: [row ids]}, "aliases_added": [ids], "leads_cleared": [ids], "shield_moved": id|None}
    undo: Mapped[dict] = mapped_column(JSON)
    merged_by: Mapped[str] = mapped_column(String(40))
    #: The authority whose management team merged (it alone may undo; listings are per authority).
    local_authority: Mapped[str | None] = mapped_column(String(20), default=None)
    merged_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    undone_by: Mapped[str | None] = mapped_column(String(40), default=None)
    undone_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
