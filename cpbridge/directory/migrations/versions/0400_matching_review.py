"""Matching: blocking keys, name frequencies, the review queue and merges.

Existing children get their blocking keys and name counts here (in batches), so a
store migrated with children in it matches them at once.

Revision ID: 0400_matching_review
Revises: 0001_directory
"""
import sqlalchemy as sa
from alembic import op

revision = "0400_matching_review"
down_revision = "0001_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "child_match_keys",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_child_match_keys_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "child_id", name=op.f("pk_child_match_keys")),
    )
    op.create_index("ix_child_match_keys_child_id", "child_match_keys", ["child_id"])
    op.create_table(
        "name_frequencies",
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "token", name=op.f("pk_name_frequencies")),
    )
    op.create_table(
        "review_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=False),
        sa.Column("identity_json", sa.Text(), nullable=False),
        sa.Column("identity_hash", sa.String(length=64), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("local_authority", sa.String(length=20), nullable=True),
        sa.Column("shielded", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_by", sa.String(length=40), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_child_id", sa.Integer(), nullable=True),
        sa.Column("merge_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["resolved_child_id"], ["children.id"], name=op.f("fk_review_cases_resolved_child_id_children"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
    )
    op.create_index("ix_review_cases_status_la", "review_cases", ["status", "local_authority"])
    op.create_index("ix_review_cases_identity_hash", "review_cases", ["identity_hash", "status"])
    op.create_table(
        "review_candidates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("veto", sa.Boolean(), nullable=False),
        sa.Column("shielded", sa.Boolean(), nullable=False),
        sa.Column("twin_risk", sa.Boolean(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["review_cases.id"], name=op.f("fk_review_candidates_case_id_review_cases"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_review_candidates_child_id_children"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_candidates")),
    )
    op.create_index(op.f("ix_review_candidates_case_id"), "review_candidates", ["case_id"])
    op.create_index(op.f("ix_review_candidates_child_id"), "review_candidates", ["child_id"])
    op.create_table(
        "review_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("local_reference", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("event_json", sa.Text(), nullable=False),
        sa.Column("caller_json", sa.Text(), nullable=False),
        sa.Column("held_at", sa.DateTime(), nullable=False),
        sa.Column("applied_outcome", sa.String(length=20), nullable=True),
        sa.Column("applied_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["review_cases.id"], name=op.f("fk_review_events_case_id_review_cases"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_review_events_event_id")),
    )
    op.create_index(op.f("ix_review_events_case_id"), "review_events", ["case_id"])
    op.create_index("ix_review_events_source_ref", "review_events", ["source_system", "local_reference"])
    op.create_table(
        "child_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kept_child_id", sa.Integer(), nullable=False),
        sa.Column("merged_child_id", sa.Integer(), nullable=False),
        sa.Column("kept_directory_id", sa.String(length=12), nullable=False),
        sa.Column("merged_directory_id", sa.String(length=12), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("undo", sa.JSON(), nullable=False),
        sa.Column("merged_by", sa.String(length=40), nullable=False),
        sa.Column("merged_at", sa.DateTime(), nullable=False),
        sa.Column("undone_by", sa.String(length=40), nullable=True),
        sa.Column("undone_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["kept_child_id"], ["children.id"], name=op.f("fk_child_merges_kept_child_id_children"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["merged_child_id"], ["children.id"], name=op.f("fk_child_merges_merged_child_id_children"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["case_id"], ["review_cases.id"], name=op.f("fk_child_merges_case_id_review_cases"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_merges")),
    )
    op.create_index(op.f("ix_child_merges_kept_child_id"), "child_merges", ["kept_child_id"])
    op.create_index("ix_child_merges_merged", "child_merges", ["merged_child_id", "undone_at"])
    _backfill()


def _backfill() -> None:
    """Keys and name counts for children already in the store."""
    from sqlalchemy.orm import Session

    bind = op.get_bind()
    if bind.execute(sa.text("SELECT 1 FROM children LIMIT 1")).first() is None:
        return
    from cpbridge.directory.matching import store

    session = Session(bind=bind)
    store.reindex_all(session)
    store.refresh_name_frequencies(session)
    session.flush()


def downgrade() -> None:
    for table in ("child_merges", "review_events", "review_candidates", "review_cases", "name_frequencies", "child_match_keys"):
        op.drop_table(table)
