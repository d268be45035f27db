"""The directory store: children, names, identifiers, carers, settings, involvements, applied events.

Later work adds its own tables in new revisions (keep the chain linear).

Revision ID: 0001_directory
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001_directory"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "applied_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("match_outcome", sa.String(length=20), nullable=False),
        sa.Column("reason_code", sa.String(length=40), nullable=True),
        sa.Column("directory_id", sa.String(length=12), nullable=True),
        sa.Column("applied_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_applied_events")),
        sa.UniqueConstraint("event_id", name=op.f("uq_applied_events_event_id")),
    )

    op.create_table(
        "children",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("directory_id", sa.String(length=12), nullable=False),
        sa.Column("given_names", sa.String(length=35), nullable=False),
        sa.Column("family_name", sa.String(length=35), nullable=False),
        sa.Column("given_key", sa.String(length=70), nullable=False),
        sa.Column("family_key", sa.String(length=70), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=False),
        sa.Column("gender", sa.String(length=10), nullable=False),
        sa.Column("address_lines", sa.JSON(), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("date_of_death", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("demographics_as_of", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_children")),
        sa.UniqueConstraint("directory_id", name=op.f("uq_children_directory_id")),
    )
    op.create_index("ix_children_family_key_dob", "children", ["family_key", "date_of_birth"])
    op.create_index(op.f("ix_children_postcode"), "children", ["postcode"])

    op.create_table(
        "carers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("given_names", sa.String(length=35), nullable=False),
        sa.Column("family_name", sa.String(length=35), nullable=False),
        sa.Column("family_key", sa.String(length=70), nullable=False),
        sa.Column("relationship", sa.String(length=20), nullable=False),
        sa.Column("phone", sa.String(length=25), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("address_lines", sa.JSON(), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("parental_responsibility", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_carers_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_carers")),
    )
    op.create_index(op.f("ix_carers_child_id"), "carers", ["child_id"])
    op.create_index(op.f("ix_carers_family_key"), "carers", ["family_key"])

    op.create_table(
        "child_identifiers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=20), nullable=False),
        sa.Column("system", sa.String(length=40), nullable=False),
        sa.Column("value", sa.String(length=40), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_child_identifiers_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_identifiers")),
        sa.UniqueConstraint("scheme", "system", "value", name="uq_child_identifiers_key"),
    )
    op.create_index(op.f("ix_child_identifiers_child_id"), "child_identifiers", ["child_id"])

    op.create_table(
        "child_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("given_names", sa.String(length=35), nullable=False),
        sa.Column("family_name", sa.String(length=35), nullable=False),
        sa.Column("given_key", sa.String(length=70), nullable=False),
        sa.Column("family_key", sa.String(length=70), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_child_names_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_child_names")),
        sa.UniqueConstraint("child_id", "given_key", "family_key", name="uq_child_names_child_key"),
    )
    op.create_index(op.f("ix_child_names_child_id"), "child_names", ["child_id"])
    op.create_index("ix_child_names_family_key", "child_names", ["family_key"])

    op.create_table(
        "involvements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("local_reference", sa.String(length=40), nullable=False),
        sa.Column("service", sa.String(length=40), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("practitioner_name", sa.String(length=70), nullable=True),
        sa.Column("practitioner_role", sa.String(length=40), nullable=True),
        sa.Column("practitioner_team", sa.String(length=100), nullable=True),
        sa.Column("practitioner_phone", sa.String(length=25), nullable=True),
        sa.Column("practitioner_email", sa.String(length=254), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("lead_professional", sa.Boolean(), nullable=False),
        sa.Column("caf_completed_on", sa.Date(), nullable=True),
        sa.Column("consent_given_by", sa.String(length=20), nullable=True),
        sa.Column("consent_recorded_on", sa.Date(), nullable=True),
        sa.Column("last_occurred_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_involvements_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_involvements")),
        sa.UniqueConstraint("source_system", "local_reference", name="uq_involvements_source_ref"),
    )
    op.create_index(op.f("ix_involvements_child_id"), "involvements", ["child_id"])

    op.create_table(
        "settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("child_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=25), nullable=True),
        sa.Column("address_lines", sa.JSON(), nullable=True),
        sa.Column("postcode", sa.String(length=8), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("source_system", sa.String(length=40), nullable=False),
        sa.Column("last_occurred_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["child_id"], ["children.id"], name=op.f("fk_settings_child_id_children"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_settings")),
        sa.UniqueConstraint("child_id", "kind", "code", name="uq_settings_child_kind_code"),
    )
    op.create_index(op.f("ix_settings_child_id"), "settings", ["child_id"])
    op.create_index(op.f("ix_settings_code"), "settings", ["code"])


def downgrade() -> None:
    op.drop_table("settings")
    op.drop_table("involvements")
    op.drop_table("child_names")
    op.drop_table("child_identifiers")
    op.drop_table("carers")
    op.drop_table("children")
    op.drop_table("applied_events")
