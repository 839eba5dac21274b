"""Stakes on the StakingVault: wei figures, the staker's wallet, the quote and prepared
transaction of a pending stake, prepared claims/unstakes, and the chain events applied.

Revision ID: 0003_vault_stakes
Revises: 0002_idempotency_key_age
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_vault_stakes"
down_revision = "0002_idempotency_key_age"
branch_labels = None
depends_on = None

WEI = sa.Numeric(78, 0)
UINT64 = sa.Numeric(20, 0)
STATUSES = "('pending', 'active', 'matured', 'closed', 'failed')"


def upgrade() -> None:
    op.drop_constraint("ck_stakes_status", "stakes", type_="check")
    op.create_check_constraint("ck_stakes_status", "stakes", f"status IN {STATUSES}")
    for column in (
        sa.Column("wallet", sa.String(42), nullable=False, server_default=""),
        sa.Column("origin", sa.String(8), nullable=False, server_default="api"),
        sa.Column("amount_wei", WEI, nullable=False, server_default="0"),
        sa.Column("apr_bps", sa.Integer, nullable=False, server_default="0"),
        sa.Column("duration_seconds", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("token_id", UINT64, nullable=False, server_default="0"),
        sa.Column("reward_wei", WEI, nullable=False, server_default="0"),
        sa.Column("claimed_wei", WEI, nullable=False, server_default="0"),
        sa.Column("rewards_paid_wei", WEI, nullable=False, server_default="0"),
        sa.Column("payout_wei", WEI, nullable=True),
        sa.Column("penalty_wei", WEI, nullable=True),
        sa.Column("early", sa.Boolean, nullable=True),
        sa.Column("vault_stake_id", UINT64, nullable=True),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("quote_hash", sa.String(66), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("transaction", postgresql.JSONB, nullable=True),
        sa.Column("signed_quote", postgresql.JSONB, nullable=True),
    ):
        op.add_column("stakes", column)
    # Stakes recorded before the vault (database-only) keep their figures, in wei.
    op.execute("UPDATE stakes SET amount_wei = amount * 1e18, apr_bps = apr * 100, "
               "duration_seconds = duration_days * 86400, claimed_wei = rewards_claimed * 1e18")
    op.create_index("uq_stakes_vault_stake_id", "stakes", ["vault_stake_id"], unique=True)
    op.create_index("uq_stakes_quote_hash", "stakes", ["quote_hash"], unique=True)
    op.create_index("idx_stakes_wallet", "stakes", ["wallet"])
    op.create_index("idx_stakes_pending", "stakes", ["expires_at"], postgresql_where=sa.text("status = 'pending'"))
    op.create_table(
        "prepared_actions",
        sa.Column("id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("stake_id", postgresql.UUID(as_uuid=True), sa.ForeignKey("stakes.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("transaction", postgresql.JSONB, nullable=False),
        sa.Column("payout_wei", WEI, nullable=False),
        sa.Column("penalty_wei", WEI, nullable=False, server_default="0"),
        sa.Column("early", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("tx_hash", sa.String(66), nullable=True),
        sa.Column("state", sa.String(12), nullable=False, server_default="prepared"),
        sa.Column("failure_reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('claim', 'unstake')", name="ck_prepared_actions_kind"),
        sa.CheckConstraint("state IN ('prepared', 'submitted', 'confirmed', 'failed')",
                           name="ck_prepared_actions_state"),
        sa.UniqueConstraint("stake_id", "kind", name="uq_prepared_actions_stake_kind"),
    )
    op.create_index("idx_prepared_actions_submitted", "prepared_actions", ["created_at"],
                    postgresql_where=sa.text("state = 'submitted'"))
    op.create_table(
        "applied_chain_events",
        sa.Column("event_id", postgresql.UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("vault_stake_id", UINT64, nullable=True),
        sa.Column("block_number", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("log_index", sa.Integer, nullable=False, server_default="0"),
        sa.Column("payload", postgresql.JSONB, nullable=False),
        sa.Column("effect", postgresql.JSONB, nullable=True),
        sa.Column("applied", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reverted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("idx_applied_chain_events_deferred", "applied_chain_events", ["vault_stake_id"],
                    postgresql_where=sa.text("NOT applied AND NOT reverted"))


def downgrade() -> None:
    op.drop_table("applied_chain_events")
    op.drop_table("prepared_actions")
    for name in ("idx_stakes_pending", "idx_stakes_wallet", "uq_stakes_quote_hash", "uq_stakes_vault_stake_id"):
        op.drop_index(name, table_name="stakes")
    for name in ("signed_quote", "transaction", "failure_reason", "expires_at", "quote_hash", "tx_hash",
                 "vault_stake_id", "early", "penalty_wei", "payout_wei", "rewards_paid_wei", "claimed_wei",
                 "reward_wei", "token_id", "duration_seconds", "apr_bps", "amount_wei", "origin", "wallet"):
        op.drop_column("stakes", name)
    op.execute("DELETE FROM stakes WHERE status IN ('pending', 'failed')")
    op.drop_constraint("ck_stakes_status", "stakes", type_="check")
    op.create_check_constraint("ck_stakes_status", "stakes", "status IN ('active', 'matured', 'closed')")
