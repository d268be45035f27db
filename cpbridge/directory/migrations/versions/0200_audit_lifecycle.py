"""Audit trail (hash chain), record lifecycle, extensions and area moves.

Adds ``audit_log`` (append-only: triggers refuse UPDATE, DELETE and, on PostgreSQL,
TRUNCATE), ``audit_head`` with its one row, ``record_extensions``,
``child_area_moves``; and the columns ``children.archived_on``,
``children.archive_reason``, ``children.responsible_la``, ``involvements.local_authority``.

Revision ID: audit_lifecycle_0001
Revises: 0001_directory
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "audit_lifecycle_0001"
down_revision = "0001_directory"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

PG_APPEND_ONLY = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
"""

SQLITE_APPEND_ONLY = (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END",
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END",
)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("user_name", sa.String(length=70), nullable=True),
        sa.Column("user_role", sa.String(length=20), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("organisation_code", sa.String(length=40), nullable=True),
        sa.Column("user_la", sa.String(length=9), nullable=True),
        sa.Column("operation", sa.String(length=40), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=True),
        sa.Column("directory_id", sa.String(length=12), nullable=True),
        sa.Column("child_la", sa.String(length=9), nullable=True),
        sa.Column("fields", sa.String(length=300), nullable=True),
        sa.Column("reason", sa.String(length=30), nullable=True),
        sa.Column("source_address", sa.String(length=45), nullable=True),
        sa.Column("outcome", sa.String(length=60), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_directory_id", "audit_log", ["directory_id"])
    op.create_index("ix_audit_log_user_at", "audit_log", ["user_id", "at"])
    op.create_index("ix_audit_log_at", "audit_log", ["at"])

    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "row_hash": GENESIS, "updated_at": datetime.now(timezone.utc).replace(tzinfo=None)}])

    op.create_table(
        "record_extensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=30), nullable=False),
        sa.Column("consent_given_by", sa.String(length=20), nullable=False),
        sa.Column("consent_given_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("withdrawn_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.String(length=40), nullable=False),
        sa.Column("recorded_la", sa.String(length=9), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_record_extensions_child_id_children"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_extensions")),
    )
    op.create_index(op.f("ix_record_extensions_child_id"), "record_extensions", ["child_id"])

    op.create_table(
        "child_area_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("from_la", sa.String(length=9), nullable=True),
        sa.Column("to_la", sa.String(length=9), nullable=False),
        sa.Column("basis", sa.String(length=20), nullable=False),
        sa.Column("moved_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["child_id"], ["children.id"], name=op.f("fk_child_area_moves_child_id_children"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_area_moves")),
    )
    op.create_index(op.f("ix_child_area_moves_child_id"), "child_area_moves", ["child_id"])

    op.add_column("children", sa.Column("archived_on", sa.Date(), nullable=True))
    op.add_column("children", sa.Column("archive_reason", sa.String(length=20), nullable=True))
    op.add_column("children", sa.Column("responsible_la", sa.String(length=9), nullable=True))
    op.create_index(op.f("ix_children_responsible_la"), "children", ["responsible_la"])
    op.add_column("involvements", sa.Column("local_authority", sa.String(length=9), nullable=True))

    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_APPEND_ONLY)
    else:
        for statement in SQLITE_APPEND_ONLY:
            op.execute(statement)


def downgrade() -> None:
    with op.batch_alter_table("involvements") as batch:
        batch.drop_column("local_authority")
    op.drop_index(op.f("ix_children_responsible_la"), table_name="children")
    with op.batch_alter_table("children") as batch:
        batch.drop_column("responsible_la")
        batch.drop_column("archive_reason")
        batch.drop_column("archived_on")
    op.drop_table("child_area_moves")
    op.drop_table("record_extensions")
    op.drop_table("audit_head")
    op.drop_table("audit_log")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
