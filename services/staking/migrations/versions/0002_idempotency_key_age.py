"""Index idempotency keys by age, so expired ones are purged cheaply.

Revision ID: 0002_idempotency_key_age
Revises: 0001_stakes
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002_idempotency_key_age"
down_revision = "0001_stakes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("idx_idempotency_keys_created", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_index("idx_idempotency_keys_created", table_name="idempotency_keys")
