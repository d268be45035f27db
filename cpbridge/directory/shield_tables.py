"""The store's tables for shields and for alerts to a management team.

Created by the migration ``0300_shields``. A shield row is never deleted: lifting
it fills ``lifted_*``, and placing a shield again adds a new row, so the history
of every shield stays. At most one shield per child is active (``lifted_at`` is
null), held by a partial unique index.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base, Child, utcnow


class ShieldRow(Base):
    """One shield on one child, from placement to lifting."""

    __tablename__ = "shields"
    __table_args__ = (
        Index(
            "uq_shields_active_child",
            "child_id",
            unique=True,
            sqlite_where=text("lifted_at IS NULL"),
            postgresql_where=text("lifted_at IS NULL"),
        ),
        Index("ix_shields_la_review_due", "local_authority", "review_due"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    #: The authority whose management team placed it and looks after it (ONS code).
    local_authority: Mapped[str] = mapped_column(String(20))
    #: ShieldReason code: adoption, domestic_violence, police_protection, other.
    reason: Mapped[str] = mapped_column(String(30))
    placed_by: Mapped[str] = mapped_column(String(40))
    placed_by_name: Mapped[str | None] = mapped_column(String(70), default=None)
    placed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    #: The next six-monthly review.
    review_due: Mapped[date] = mapped_column(Date)
    last_reviewed_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    last_reviewed_by: Mapped[str | None] = mapped_column(String(40), default=None)
    lifted_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    lifted_by: Mapped[str | None] = mapped_column(String(40), default=None)
    #: LiftReason code.
    lift_reason: Mapped[str | None] = mapped_column(String(30), default=None)


class AlertRow(Base):
    """Something a local authority's management team must check at once (e.g. a shield override)."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_la_open", "local_authority", "acknowledged_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    child_id: Mapped[int | None] = mapped_column(ForeignKey("children.id", ondelete="SET NULL"), index=True, default=None)
    #: The directory ID at the time (kept if the child row is later destroyed).
    directory_id: Mapped[str | None] = mapped_column(String(12), default=None)
    local_authority: Mapped[str] = mapped_column(String(20))
    account: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[str] = mapped_column(String(40))
    user_name: Mapped[str | None] = mapped_column(String(70), default=None)
    organisation: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    #: A code (e.g. the OverrideReason), never free text.
    reason: Mapped[str] = mapped_column(String(40))
    raised_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    acknowledged_by: Mapped[str | None] = mapped_column(String(40), default=None)


#: Fuzzy search finds candidates by date of birth alone (given names + DOB + gender +
#: postcode has no family name); the spine's index leads with family_key.
Index("ix_children_date_of_birth", Child.date_of_birth)
