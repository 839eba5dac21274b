"""The recorded sales the wash-trading and velocity rules look back on (from asset.sold),
so a restart does not forget a ring that is half-way round.

Revision ID: 0004_trades
Revises: 0003_sale_flags
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_trades"
down_revision = "0003_sale_flags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trades",
        sa.Column("sale_id", sa.String(200), primary_key=True),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.Column("seller_wallet", sa.String(64), nullable=False),
        sa.Column("buyer_wallet", sa.String(64), nullable=False),
        sa.Column("price", sa.Numeric(36, 18), nullable=False),
        sa.Column("sold_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("idx_trades_sold_at", "trades", ["sold_at"])


def downgrade() -> None:
    op.drop_index("idx_trades_sold_at", table_name="trades")
    op.drop_table("trades")
