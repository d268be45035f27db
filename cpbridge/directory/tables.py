"""The directory's store: SQLAlchemy 2 typed models.

A child has a public ``directory_id`` (issued by :func:`cpbridge.identifiers.new_directory_id`)
and an internal integer ``id`` that never leaves the service. Everything else hangs
off the child: other names, identifiers, carers, settings and involvements.
``applied_events`` makes every write idempotent.

Timestamps are stored as naive UTC (``DateTime`` without time zone) so SQLite and
PostgreSQL compare them the same way; :func:`utc` converts on the way in.

The schema itself is created by the Alembic scripts in ``migrations/``; a change
here needs a new revision there. Later work (shields, audit, review queue) adds
its own tables in new revisions.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utc(value: datetime) -> datetime:
    """``value`` as naive UTC (a naive input is taken to be UTC already)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Child(Base):
    """One child. ``*_key`` columns hold the matcher's normalised names."""

    __tablename__ = "children"
    __table_args__ = (Index("ix_children_family_key_dob", "family_key", "date_of_birth"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    directory_id: Mapped[str] = mapped_column(String(12), unique=True)
    given_names: Mapped[str] = mapped_column(String(35))
    family_name: Mapped[str] = mapped_column(String(35))
    given_key: Mapped[str] = mapped_column(String(70))
    family_key: Mapped[str] = mapped_column(String(70))
    date_of_birth: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(10), default="unknown")
    address_lines: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    postcode: Mapped[str | None] = mapped_column(String(8), index=True, default=None)
    date_of_death: Mapped[date | None] = mapped_column(Date, default=None)
    #: ``live`` or ``archived`` (left the live directory; kept for the retention period).
    status: Mapped[str] = mapped_column(String(10), default="live")
    #: When and why it left the live directory (see lifecycle.py); the area it belongs to (areas.py).
    archived_on: Mapped[date | None] = mapped_column(Date, default=None)
    archive_reason: Mapped[str | None] = mapped_column(String(20), default=None)
    responsible_la: Mapped[str | None] = mapped_column(String(9), index=True, default=None)
    #: occurred_at of the demographics last applied (UpdateDemographics staleness).
    demographics_as_of: Mapped[datetime | None] = mapped_column(DateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    names: Mapped[list[ChildName]] = relationship(back_populates="child", cascade="all, delete-orphan")
    identifiers: Mapped[list[ChildIdentifier]] = relationship(back_populates="child", cascade="all, delete-orphan")
    carers: Mapped[list[Carer]] = relationship(
        back_populates="child", cascade="all, delete-orphan", order_by="(Carer.source_system, Carer.position)"
    )
    settings: Mapped[list[ChildSetting]] = relationship(
        back_populates="child", cascade="all, delete-orphan", order_by="ChildSetting.id"
    )
    involvements: Mapped[list[InvolvementRow]] = relationship(
        back_populates="child", cascade="all, delete-orphan", order_by="InvolvementRow.id"
    )


class ChildName(Base):
    """Another name the child is known by (alias, former or alternative spelling)."""

    __tablename__ = "child_names"
    __table_args__ = (
        UniqueConstraint("child_id", "given_key", "family_key", name="uq_child_names_child_key"),
        Index("ix_child_names_family_key", "family_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    given_names: Mapped[str] = mapped_column(String(35))
    family_name: Mapped[str] = mapped_column(String(35))
    given_key: Mapped[str] = mapped_column(String(70))
    family_key: Mapped[str] = mapped_column(String(70))
    source_system: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    child: Mapped[Child] = relationship(back_populates="names")


class ChildIdentifier(Base):
    """An identifier linked to a child. ``system`` is '' except for ``local`` identifiers."""

    __tablename__ = "child_identifiers"
    __table_args__ = (UniqueConstraint("scheme", "system", "value", name="uq_child_identifiers_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    scheme: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(40), default="")
    value: Mapped[str] = mapped_column(String(40))
    #: The source that first linked it.
    source_system: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    child: Mapped[Child] = relationship(back_populates="identifiers")


class Carer(Base):
    """A parent or carer as one source records them (a source's carers are replaced together)."""

    __tablename__ = "carers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    source_system: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    given_names: Mapped[str] = mapped_column(String(35))
    family_name: Mapped[str] = mapped_column(String(35))
    family_key: Mapped[str] = mapped_column(String(70), index=True)
    #: the Relationship code (attribute renamed so it does not shadow ``orm.relationship``)
    relation: Mapped[str] = mapped_column("relationship", String(20), default="carer")
    phone: Mapped[str | None] = mapped_column(String(25), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    address_lines: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    postcode: Mapped[str | None] = mapped_column(String(8), default=None)
    parental_responsibility: Mapped[bool | None] = mapped_column(Boolean, default=None)

    child: Mapped[Child] = relationship(back_populates="carers")


class ChildSetting(Base):
    """A school, early-years setting or GP practice the child attends or attended."""

    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("child_id", "kind", "code", name="uq_settings_child_kind_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40), index=True)
    name: Mapped[str] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(25), default=None)
    address_lines: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    postcode: Mapped[str | None] = mapped_column(String(8), default=None)
    start_date: Mapped[date | None] = mapped_column(Date, default=None)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    source_system: Mapped[str] = mapped_column(String(40))
    last_occurred_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    child: Mapped[Child] = relationship(back_populates="settings")


class InvolvementRow(Base):
    """That a service is involved with a child: who to contact, and the two flags."""

    __tablename__ = "involvements"
    __table_args__ = (
        UniqueConstraint("source_system", "local_reference", name="uq_involvements_source_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("children.id", ondelete="CASCADE"), index=True)
    source_system: Mapped[str] = mapped_column(String(40))
    local_reference: Mapped[str] = mapped_column(String(40))
    service: Mapped[str] = mapped_column(String(40))
    organisation: Mapped[str] = mapped_column(String(100))
    practitioner_name: Mapped[str | None] = mapped_column(String(70), default=None)
    practitioner_role: Mapped[str | None] = mapped_column(String(40), default=None)
    practitioner_team: Mapped[str | None] = mapped_column(String(100), default=None)
    practitioner_phone: Mapped[str | None] = mapped_column(String(25), default=None)
    practitioner_email: Mapped[str | None] = mapped_column(String(254), default=None)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)
    lead_professional: Mapped[bool] = mapped_column(Boolean, default=False)
    caf_completed_on: Mapped[date | None] = mapped_column(Date, default=None)
    consent_given_by: Mapped[str | None] = mapped_column(String(20), default=None)
    consent_recorded_on: Mapped[date | None] = mapped_column(Date, default=None)
    #: The area (LA code) of the account that registered it: shown so a new area sees the old one's services.
    local_authority: Mapped[str | None] = mapped_column(String(9), default=None)
    #: The system account that registered it: only that account may change or end it
    #: (None, for rows older than the column that no applied event could be traced to: the next write claims it).
    registered_by: Mapped[str | None] = mapped_column(String(100), default=None)
    #: occurred_at of the newest event applied to this involvement (staleness).
    last_occurred_at: Mapped[datetime] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    child: Mapped[Child] = relationship(back_populates="involvements")


class AppliedEvent(Base):
    """Every event the directory has answered (applied or stale): a replay is a duplicate."""

    __tablename__ = "applied_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    source_system: Mapped[str] = mapped_column(String(40))
    account: Mapped[str] = mapped_column(String(100))
    outcome: Mapped[str] = mapped_column(String(20))
    match_outcome: Mapped[str] = mapped_column(String(20))
    reason_code: Mapped[str | None] = mapped_column(String(40), default=None)
    directory_id: Mapped[str | None] = mapped_column(String(12), default=None)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
