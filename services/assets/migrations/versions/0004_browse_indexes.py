"""Browse indexes for a catalog of a million assets: a type filter with each sort.

Browsing by type (`?asset_type=music&sort=price`, with or without a status) had no index
in the sort's order, so PostgreSQL sorted every asset of the type for each page (or walked
the whole price index filtering by type). Each index ends in `id`, the tie-breaker of every
ORDER BY and of the keyset cursor, so a page (first or at any depth) is one index range.
Without CONCURRENTLY: Alembic runs in a transaction; at 1,000,000 rows each build takes a few
seconds and blocks writes to assets meanwhile.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_assets_type_price": "(asset_type, price, id)",
    "ix_assets_type_created": "(asset_type, created_at, id)",
    "ix_assets_type_status_price": "(asset_type, status, price, id)",
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON assets {columns}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
