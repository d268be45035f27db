"""The outbox: accepted messages and their canonical events.

Revision ID: 0001_outbox
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_outbox"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapter_messages",
        sa.Column("tracking_id", sa.String(36), primary_key=True),
        sa.Column("system_id", sa.String(40), nullable=False),
        sa.Column("message_id", sa.String(80), nullable=False),
        sa.Column("message_type", sa.String(60), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_count", sa.Integer, nullable=False),
        sa.UniqueConstraint("system_id", "message_id", name="uq_adapter_messages_source"),
    )
    op.create_table(
        "adapter_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tracking_id", sa.String(36), sa.ForeignKey("adapter_messages.tracking_id"), nullable=False),
        sa.Column("event_id", sa.String(40), nullable=False, unique=True),
        sa.Column("system_id", sa.String(40), nullable=False),
        sa.Column("child_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("error_code", sa.String(40), nullable=True),
        sa.Column("outcome", sa.Text, nullable=True),
    )
    op.create_index("ix_adapter_outbox_tracking_id", "adapter_outbox", ["tracking_id"])
    op.create_index("ix_adapter_outbox_due", "adapter_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_adapter_outbox_child", "adapter_outbox", ["child_key", "status", "id"])


def downgrade() -> None:
    op.drop_table("adapter_outbox")
    op.drop_table("adapter_messages")
