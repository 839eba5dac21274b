"""chain event index: the indexer's checkpoint, the blocks it read (hashes, to see reorgs),
every contract event it indexed, and the outbox its domain events leave through

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from ipheron_libs import events
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    events.migration_upgrade(op)  # outbox + processed_events (IF NOT EXISTS)
    op.create_table(
        "index_checkpoints",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66)),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "indexed_blocks",
        sa.Column("chain_id", sa.BigInteger(), primary_key=True),
        sa.Column("number", sa.BigInteger(), primary_key=True),
        sa.Column("hash", sa.String(66), nullable=False),
        sa.Column("parent_hash", sa.String(66), nullable=False),
        sa.Column("block_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("has_events", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("indexed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )
    op.create_table(
        "indexed_events",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("block_hash", sa.String(66), nullable=False),
        sa.Column("tx_hash", sa.String(66), nullable=False),
        sa.Column("log_index", sa.BigInteger(), nullable=False),
        sa.Column("contract", sa.String(42), nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("args", postgresql.JSONB(), nullable=False),
        sa.Column("domain_type", sa.String(64), nullable=False),
        sa.Column("domain_event_id", postgresql.UUID(as_uuid=True)),
        sa.Column("payload", postgresql.JSONB(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("removed_at", sa.DateTime(timezone=True)),
        sa.Column("reverted_event_id", postgresql.UUID(as_uuid=True)),
        sa.Column("indexed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.UniqueConstraint("chain_id", "block_hash", "tx_hash", "log_index", name="uq_indexed_events_position"),
    )
    op.create_index("ix_indexed_events_block", "indexed_events", ["chain_id", "block_number"])
    op.create_index("ix_indexed_events_tx_hash", "indexed_events", ["tx_hash"])


def downgrade() -> None:
    op.drop_index("ix_indexed_events_tx_hash", "indexed_events")
    op.drop_index("ix_indexed_events_block", "indexed_events")
    op.drop_table("indexed_events")
    op.drop_table("indexed_blocks")
    op.drop_table("index_checkpoints")
    # The outbox stays: other chain events may use it.
