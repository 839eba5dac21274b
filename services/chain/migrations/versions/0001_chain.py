"""chain schema: meta, deployments, transactions, journal

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

WEI = sa.Numeric(78, 0)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("address", sa.String(42), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("tx_hash", sa.String(66)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("chain_id", "name", "code_hash"),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("tx_hash", sa.String(66), nullable=False, unique=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("from_address", sa.String(42), nullable=False),
        sa.Column("to_address", sa.String(42)),
        sa.Column("nonce", sa.BigInteger(), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("asset_id", postgresql.UUID(as_uuid=True)),
        sa.Column("token_id", sa.BigInteger()),
        sa.Column("counterparty", sa.String(42)),
        sa.Column("amount_wei", WEI, nullable=False),
        sa.Column("gas_limit", sa.BigInteger(), nullable=False),
        sa.Column("max_fee_per_gas", WEI, nullable=False),
        sa.Column("max_priority_fee_per_gas", WEI, nullable=False),
        sa.Column("gas_used", sa.BigInteger()),
        sa.Column("gas_price_wei", WEI),
        sa.Column("block_number", sa.BigInteger()),
        sa.Column("block_hash", sa.String(66)),
        sa.Column("block_time", sa.DateTime(timezone=True)),
        sa.Column("error", sa.Text()),
        sa.Column("replaced_by", sa.String(66)),
        sa.Column("idempotency_key", sa.String(200), unique=True),
        sa.Column("request_hash", sa.String(64)),
        sa.Column("details", postgresql.JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.CheckConstraint("amount_wei >= 0", name="ck_transactions_amount_nonnegative"),
        sa.CheckConstraint(
            "status IN ('pending', 'confirmed', 'failed', 'replaced')", name="ck_transactions_status"
        ),
    )
    op.create_index("ix_transactions_asset_id", "transactions", ["asset_id"])
    op.create_index("ix_transactions_token_id", "transactions", ["token_id"])
    op.create_index("ix_transactions_status", "transactions", ["status"])
    op.create_index("ix_transactions_from_nonce", "transactions", ["from_address", "nonce"])
    op.create_table(
        "journal",
        sa.Column("seq", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("raw_tx", sa.LargeBinary(), nullable=False),
        sa.Column("block_timestamp", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("journal")
    op.drop_index("ix_transactions_from_nonce", "transactions")
    op.drop_index("ix_transactions_status", "transactions")
    op.drop_index("ix_transactions_token_id", "transactions")
    op.drop_index("ix_transactions_asset_id", "transactions")
    op.drop_table("transactions")
    op.drop_table("deployments")
    op.drop_table("meta")
