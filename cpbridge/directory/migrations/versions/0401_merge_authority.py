"""Each merge records the authority whose management team made it (undo and listings are scoped by it).

Revision ID: 0401_merge_authority
Revises: 0400_matching_review
"""

import sqlalchemy as sa
from alembic import op

revision = "0401_merge_authority"
down_revision = "0400_matching_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("child_merges") as batch:
        batch.add_column(sa.Column("local_authority", sa.String(20), nullable=True))
        batch.create_index("ix_child_merges_la", ["local_authority", "merged_at"])


def downgrade() -> None:
    with op.batch_alter_table("child_merges") as batch:
        batch.drop_index("ix_child_merges_la")
        batch.drop_column("local_authority")
