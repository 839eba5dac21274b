"""Stored analyses readable through the API: the whole answer, the owner of record,
the asset's features (to re-run) and what triggered the run.

Revision ID: 0002_analysis_detail
Revises: 0001_models_analyses
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_analysis_detail"
down_revision = "0001_models_analyses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("analyses", sa.Column("detail", sa.JSON, nullable=True))
    op.add_column("analyses", sa.Column("features", sa.JSON, nullable=True))
    op.add_column("analyses", sa.Column("owner_user_id", sa.String(128), nullable=False, server_default=""))
    op.add_column("analyses", sa.Column("trigger", sa.String(32), nullable=False, server_default="asset.created"))


def downgrade() -> None:
    for column in ("trigger", "owner_user_id", "features", "detail"):
        op.drop_column("analyses", column)
