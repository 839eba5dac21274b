"""Users, SIWE nonces, refresh tokens, idempotent operations and the event outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from ipheron_libs import events
from sqlalchemy.dialects.postgresql import JSONB, UUID

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True, server_default=sa.text("gen_random_uuid()")),
        sa.Column("wallet_address", sa.String(42), nullable=False, unique=True),
        sa.Column("username", sa.String(80), nullable=False),
        sa.Column("email", sa.String(120)),
        sa.Column("reputation_score", sa.Integer, nullable=False, server_default="50"),
        sa.Column("region", sa.String(100), nullable=False, server_default="Global"),
        sa.Column("skills", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("bio", sa.Text, nullable=False, server_default=""),
        sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.text("false")),
        sa.Column("total_sales", sa.Numeric(24, 6), nullable=False, server_default="0"),
        sa.Column("total_assets_created", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("total_sales >= 0", name="ck_users_total_sales_nonnegative"),
    )
    # Usernames are unique regardless of letter case; emails are stored lower-cased.
    op.execute("CREATE UNIQUE INDEX uq_users_username_lower ON users (lower(username))")
    op.execute("CREATE UNIQUE INDEX uq_users_email ON users (email) WHERE email IS NOT NULL")
    op.create_index("ix_users_region_lower", "users", [sa.text("lower(region)")])
    op.create_index("ix_users_reputation", "users", ["reputation_score"])
    op.create_index("ix_users_created", "users", ["created_at", "id"])

    op.create_table(
        "siwe_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_siwe_nonces_expires", "siwe_nonces", ["expires_at"])

    op.create_table(
        "refresh_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("family_id", UUID(as_uuid=True), nullable=False),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("token_hash", sa.LargeBinary, nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"])

    op.create_table(
        "user_operations",
        sa.Column("operation_id", sa.String(200), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("amount", sa.Numeric(24, 6)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    events.migration_upgrade(op)


def downgrade() -> None:
    events.migration_downgrade(op)
    op.drop_table("user_operations")
    op.drop_table("refresh_tokens")
    op.drop_table("siwe_nonces")
    op.drop_table("users")
