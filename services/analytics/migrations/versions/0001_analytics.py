"""Facts (assets, creators, sales, transfers, stakes), the daily market_analytics
roll-up, and the processed-events table.

Revision ID: 0001_analytics
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from ipheron_libs import events

revision = "0001_analytics"
down_revision = None
branch_labels = None
depends_on = None

AMOUNT = sa.Numeric(36, 18)
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("asset_id", sa.String(128), primary_key=True),
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("list_price", AMOUNT),
        sa.Column("status", sa.String(32)),
        sa.Column("region", sa.String(100)),
        sa.Column("created_at", TS),
        sa.Column("created_day", sa.Date),
    )
    op.create_index("idx_assets_type", "assets", ["asset_type"])
    op.create_index("idx_assets_created_day", "assets", ["created_day"])
    op.create_table(
        "asset_creators",
        sa.Column("asset_id", sa.String(128), primary_key=True),
        sa.Column("creator_id", sa.String(128), primary_key=True),
        sa.Column("share_percent", sa.Numeric(7, 4), nullable=False),
    )
    op.create_index("idx_asset_creators_creator", "asset_creators", ["creator_id"])
    op.create_table(
        "sales",
        sa.Column("sale_id", sa.String(128), primary_key=True),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.Column("asset_type", sa.String(32), nullable=False),
        sa.Column("price", AMOUNT, nullable=False),
        sa.Column("currency", sa.String(16), nullable=False),
        sa.Column("buyer_id", sa.String(128)),
        sa.Column("seller_id", sa.String(128)),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.CheckConstraint("price >= 0", name="ck_sales_price_non_negative"),
    )
    op.create_index("idx_sales_day_type", "sales", ["day", "asset_type"])
    op.create_index("idx_sales_asset_time", "sales", ["asset_id", "occurred_at"])
    op.create_index("idx_sales_time", "sales", ["occurred_at"])
    op.create_table(
        "transfers",
        sa.Column("event_id", sa.String(128), primary_key=True),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
    )
    op.create_index("idx_transfers_asset", "transfers", ["asset_id"])
    op.create_table(
        "stakes",
        sa.Column("stake_id", sa.String(128), primary_key=True),
        sa.Column("asset_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", TS, nullable=False),
        sa.Column("closed_at", TS),
    )
    op.create_index("idx_stakes_asset", "stakes", ["asset_id"])
    op.create_index("idx_stakes_status", "stakes", ["status"])
    op.create_table(
        "market_analytics",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("date", sa.Date, nullable=False),
        sa.Column("asset_type", sa.String(32), nullable=False, server_default="all"),
        sa.Column("total_volume", AMOUNT, nullable=False, server_default="0"),
        sa.Column("total_transactions", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("active_assets", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("active_creators", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("avg_asset_price", AMOUNT, nullable=False, server_default="0"),
        sa.Column("market_sentiment", sa.String(20), nullable=False, server_default="neutral"),
        sa.Column("created_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("date", "asset_type", name="uq_market_analytics_date_type"),
        sa.CheckConstraint("market_sentiment IN ('bearish', 'neutral', 'bullish')", name="ck_market_sentiment"),
    )
    op.create_index("idx_analytics_date", "market_analytics", ["date"])
    events.migration_upgrade(op)


def downgrade() -> None:
    events.migration_downgrade(op)
    for table in ("market_analytics", "stakes", "transfers", "sales", "asset_creators", "assets"):
        op.drop_table(table)
