"""Market model versions, orchestrated analyses, and the outbox / processed-events tables.

Revision ID: 0001_models_analyses
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from ipheron_libs import events

revision = "0001_models_analyses"
down_revision = None
branch_labels = None
depends_on = None

MAE = sa.Numeric(30, 9)


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("asset_type", sa.String(32), nullable=False, index=True),
        sa.Column("version", sa.String(96), nullable=False, unique=True),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("holdout_days", sa.Integer, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("mae_volume", MAE, nullable=False),
        sa.Column("baseline_mae_volume", MAE, nullable=False),
        sa.Column("mae_price", MAE, nullable=False),
        sa.Column("baseline_mae_price", MAE, nullable=False),
    )
    op.create_table(
        "analyses",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("asset_id", sa.String(128), nullable=False, index=True),
        sa.Column("event_id", sa.String(128), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("suggested_price", sa.Numeric(36, 18), nullable=True),
        sa.Column("risk_score", sa.Integer, nullable=True),
        sa.Column("sentiment", sa.String(16), nullable=False, server_default=""),
        sa.Column("failures", sa.JSON, nullable=False),
    )
    events.migration_upgrade(op)


def downgrade() -> None:
    events.migration_downgrade(op)
    op.drop_table("analyses")
    op.drop_table("model_versions")
