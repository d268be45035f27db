"""Shields (with history), alerts to management teams, and an index on children.date_of_birth.

Revision ID: 0300_shields
Revises: 0001_directory
"""
import sqlalchemy as sa
from alembic import op

revision = "0300_shields"
down_revision = "0001_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shields",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("local_authority", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("placed_by", sa.String(length=40), nullable=False),
        sa.Column("placed_by_name", sa.String(length=70), nullable=True),
        sa.Column("placed_at", sa.DateTime(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=False),
        sa.Column("last_reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("last_reviewed_by", sa.String(length=40), nullable=True),
        sa.Column("lifted_at", sa.DateTime(), nullable=True),
        sa.Column("lifted_by", sa.String(length=40), nullable=True),
        sa.Column("lift_reason", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_shields_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shields")),
    )
    op.create_index(op.f("ix_shields_child_id"), "shields", ["child_id"])
    op.create_index("ix_shields_la_review_due", "shields", ["local_authority", "review_due"])
    op.create_index(
        "uq_shields_active_child",
        "shields",
        ["child_id"],
        unique=True,
        sqlite_where=sa.text("lifted_at IS NULL"),
        postgresql_where=sa.text("lifted_at IS NULL"),
    )

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("directory_id", sa.String(length=12), nullable=True),
        sa.Column("local_authority", sa.String(length=20), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=70), nullable=True),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_alerts_child_id_children"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_child_id"), "alerts", ["child_id"])
    op.create_index("ix_alerts_la_open", "alerts", ["local_authority", "acknowledged_at"])

    op.create_index("ix_children_date_of_birth", "children", ["date_of_birth"])


def downgrade() -> None:
    op.drop_index("ix_children_date_of_birth", table_name="children")
    op.drop_table("alerts")
    op.drop_table("shields")
