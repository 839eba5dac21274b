"""Days whose market_analytics rows wait to be rebuilt (the stream consumer queues them; the
roll-up job rebuilds each once per interval, however many sales it saw).

Revision ID: 0002_rollup_pending
Revises: 0001_analytics
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_rollup_pending"
down_revision = "0001_analytics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_pending",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rollup_pending")
