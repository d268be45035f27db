"""Each involvement records the system account that registered it (only that account may change it).

Existing rows are backfilled from ``applied_events``: the account of the earliest applied
involvement event from the same source system about the same child; failing that, the
account of the earliest event from that source system at all. A row neither finds stays
NULL and is claimed by the next account that writes to it.

Revision ID: 0500_involvement_owner
Revises: 0001_directory
"""

import sqlalchemy as sa
from alembic import op

revision = "0500_involvement_owner"
down_revision = "0001_directory"
branch_labels = None
depends_on = None

_INVOLVEMENT_EVENTS = "('involvement_opened', 'involvement_changed', 'assessment_completed', 'involvement_closed', " \
    "'lead_professional_set', 'lead_professional_removed')"


def upgrade() -> None:
    with op.batch_alter_table("involvements") as batch:
        batch.add_column(sa.Column("registered_by", sa.String(100), nullable=True))
    op.execute(
        f"""
        UPDATE involvements SET registered_by = (
            SELECT ae.account FROM applied_events ae JOIN children c ON c.directory_id = ae.directory_id
            WHERE c.id = involvements.child_id AND ae.source_system = involvements.source_system
              AND ae.outcome = 'applied' AND ae.event_type IN {_INVOLVEMENT_EVENTS}
            ORDER BY ae.id LIMIT 1)
        WHERE registered_by IS NULL
        """
    )
    op.execute(
        """
        UPDATE involvements SET registered_by = (
            SELECT ae.account FROM applied_events ae
            WHERE ae.source_system = involvements.source_system AND ae.outcome = 'applied'
            ORDER BY ae.id LIMIT 1)
        WHERE registered_by IS NULL
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("involvements") as batch:
        batch.drop_column("registered_by")
