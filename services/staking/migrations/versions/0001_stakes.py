"""Stakes, idempotency keys, and the outbox / processed-events tables.

Revision ID: 0001_stakes
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from ipheron_libs import events
from sqlalchemy.dialects import postgresql

revision = "0001_stakes"
down_revision = None
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(36, 18)


def upgrade() -> None:
    op.create_table(
        "stakes",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("duration_days", sa.Integer, nullable=False),
        sa.Column("apr", sa.Numeric(9, 4), nullable=False),
        sa.Column("start_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("total_rewards_earned", AMOUNT, nullable=False, server_default="0"),
        sa.Column("rewards_claimed", AMOUNT, nullable=False, server_default="0"),
        sa.Column("last_reward_calculation", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("penalty", AMOUNT, nullable=True),
        sa.Column("payout", AMOUNT, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("amount > 0", name="ck_stakes_amount_positive"),
        sa.CheckConstraint("status IN ('active', 'matured', 'closed')", name="ck_stakes_status"),
        sa.CheckConstraint("end_time > start_time", name="ck_stakes_period"),
        sa.CheckConstraint("rewards_claimed <= total_rewards_earned", name="ck_stakes_claimed_le_earned"),
    )
    op.create_index("idx_stakes_user_id", "stakes", ["user_id"])
    op.create_index("idx_stakes_status", "stakes", ["status"])
    op.create_index("idx_stakes_user_created", "stakes", ["user_id", "created_at"])
    op.create_index("idx_stakes_asset_id", "stakes", ["asset_id"])
    op.create_index("idx_stakes_active_end", "stakes", ["end_time"], postgresql_where=sa.text("status = 'active'"))
    op.create_table(
        "idempotency_keys",
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("key", sa.String(128), primary_key=True),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("response", postgresql.JSONB, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    events.migration_upgrade(op)


def downgrade() -> None:
    events.migration_downgrade(op)
    op.drop_table("idempotency_keys")
    op.drop_table("stakes")
