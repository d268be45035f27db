"""Outbox: per-child order by occurred_at, lease tokens, an index for pruning.

Revision ID: 0002_outbox_order_and_leases
Revises: 0001_outbox
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_outbox_order_and_leases"
down_revision = "0001_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("adapter_outbox") as batch:
        batch.add_column(sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_token", sa.String(32), nullable=True))
    # rows accepted before this revision keep their acceptance order
    op.execute("UPDATE adapter_outbox SET occurred_at = created_at WHERE occurred_at IS NULL")
    with op.batch_alter_table("adapter_outbox") as batch:
        batch.alter_column("occurred_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_index("ix_adapter_outbox_child")
        batch.create_index("ix_adapter_outbox_child_order", ["child_key", "status", "occurred_at", "id"])
        batch.create_index("ix_adapter_outbox_done", ["status", "delivered_at"])


def downgrade() -> None:
    with op.batch_alter_table("adapter_outbox") as batch:
        batch.drop_index("ix_adapter_outbox_done")
        batch.drop_index("ix_adapter_outbox_child_order")
        batch.create_index("ix_adapter_outbox_child", ["child_key", "status", "id"])
        batch.drop_column("lease_token")
        batch.drop_column("occurred_at")
