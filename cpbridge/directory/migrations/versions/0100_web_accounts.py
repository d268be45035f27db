"""Secure web link and embeddable panel: practitioner accounts, web sessions, panel launches.

Revision ID: 0100_web_accounts
Revises: 0001_directory
"""
import sqlalchemy as sa
from alembic import op

revision = "0100_web_accounts"
down_revision = "0001_directory"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "practitioner_accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=70), nullable=False),
        sa.Column("organisation", sa.String(length=100), nullable=False),
        sa.Column("organisation_code", sa.String(length=40), nullable=True),
        sa.Column("local_authority", sa.String(length=20), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("pin_hash", sa.String(length=200), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=False),
        sa.Column("last_totp_step", sa.Integer(), nullable=True),
        sa.Column("failed_attempts", sa.Integer(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practitioner_accounts")),
        sa.UniqueConstraint("user_id", name=op.f("uq_practitioner_accounts_user_id")),
    )
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("stage", sa.String(length=12), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["practitioner_accounts.id"],
            name=op.f("fk_web_sessions_account_id_practitioner_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_account_id"), "web_sessions", ["account_id"])
    op.create_index(op.f("ix_web_sessions_last_seen_at"), "web_sessions", ["last_seen_at"])
    op.create_table(
        "embed_launches",
        sa.Column("launch_hash", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=100), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("launch_hash", name=op.f("pk_embed_launches")),
        sa.UniqueConstraint("jti", name=op.f("uq_embed_launches_jti")),
    )
    op.create_index(op.f("ix_embed_launches_expires_at"), "embed_launches", ["expires_at"])


def downgrade() -> None:
    op.drop_table("embed_launches")
    op.drop_table("web_sessions")
    op.drop_table("practitioner_accounts")
