"""A table the skeleton test's RPC reads, proving migrations ran before serving."""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table("skeleton_rows", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("skeleton_rows")
