"""The adapter's own tables: received messages and the outbox of canonical events.

Only canonical events are stored (never the local message, which carries case
data). Delivered rows are pruned after ``retain_delivered_days``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Message(Base):
    """One accepted local message; its tracking id is what the local system was given."""

    __tablename__ = "adapter_messages"
    __table_args__ = (UniqueConstraint("system_id", "message_id", name="uq_adapter_messages_source"),)

    tracking_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    system_id: Mapped[str] = mapped_column(String(40))
    message_id: Mapped[str] = mapped_column(String(80))
    message_type: Mapped[str] = mapped_column(String(60))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    event_count: Mapped[int] = mapped_column(Integer)


class OutboxEvent(Base):
    """One canonical event waiting for, or done with, delivery to the directory.

    ``status``: pending -> delivered, or dead (parked with ``last_error``), or
    discarded by an operator. Rows of one ``child_key`` are delivered in the
    order the local system produced them (``occurred_at``, then ``id``): a row is
    eligible only when no earlier row of its child is pending and no other row of
    its child is leased. ``lease_token`` names the claim that holds the lease, so
    a worker whose lease expired cannot overwrite another worker's outcome.
    """

    __tablename__ = "adapter_outbox"
    __table_args__ = (
        Index("ix_adapter_outbox_due", "status", "next_attempt_at"),
        Index("ix_adapter_outbox_child_order", "child_key", "status", "occurred_at", "id"),
        Index("ix_adapter_outbox_done", "status", "delivered_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tracking_id: Mapped[str] = mapped_column(ForeignKey("adapter_messages.tracking_id"), index=True)
    event_id: Mapped[str] = mapped_column(String(40), unique=True)
    system_id: Mapped[str] = mapped_column(String(40))
    child_key: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(40))
    operation: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: When the local system says the event happened (UTC): the per-child delivery order.
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    lease_token: Mapped[str | None] = mapped_column(String(32), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    outcome: Mapped[str | None] = mapped_column(Text, nullable=True)
