"""chain journal: the block each journaled transaction went into, so a replay rebuilds the
same blocks when the embedded chain mines several transactions per block

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # NULL for entries written before: each of them was mined alone in its own block.
    op.add_column("journal", sa.Column("block_number", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column("journal", "block_number")
