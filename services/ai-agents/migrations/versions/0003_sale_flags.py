"""Risk flags stored on recorded sales: the sale's own (decided when it was recorded) and
the retroactive ones a later sale revealed (e.g. the first sales of a wash-trading ring).

Revision ID: 0003_sale_flags
Revises: 0002_analysis_detail
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_sale_flags"
down_revision = "0002_analysis_detail"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sale_flags",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("sale_id", sa.String(200), nullable=False),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.Column("seller_wallet", sa.String(64), nullable=False),
        sa.Column("buyer_wallet", sa.String(64), nullable=False),
        sa.Column("price", sa.Numeric(36, 18), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("explanation", sa.Text, nullable=False),
        sa.Column("retroactive", sa.Boolean, nullable=False),
        sa.Column("revealed_by", sa.String(200), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cycle_wallets", sa.JSON, nullable=False),
        sa.Column("kb_version", sa.String(64), nullable=False, server_default=""),
        sa.UniqueConstraint("sale_id", "rule", name="uq_sale_flags_sale_rule"),
    )
    op.create_index("idx_sale_flags_asset", "sale_flags", ["asset_id", "sold_at"])


def downgrade() -> None:
    op.drop_index("idx_sale_flags_asset", table_name="sale_flags")
    op.drop_table("sale_flags")
