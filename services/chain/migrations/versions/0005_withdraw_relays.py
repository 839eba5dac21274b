"""chain withdraw relays: when the platform last paid the gas of a payee's withdrawal
(withdrawFor), so the per-wallet cooldown survives restarts

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withdraw_relays",
        sa.Column("payee", sa.String(42), primary_key=True),
        sa.Column("last_relay_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("withdraw_relays")
