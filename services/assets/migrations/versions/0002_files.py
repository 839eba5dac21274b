"""Stored files (content-addressed by CID v1) and their attachment to assets.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
        CREATE TABLE files (
            cid varchar(100) PRIMARY KEY,
            size integer NOT NULL CHECK (size >= 0),
            content_type varchar(100) NOT NULL,
            filename varchar(255) NOT NULL DEFAULT '',
            sha256 char(64) NOT NULL,
            uploader_user_id varchar(64) NOT NULL,
            content bytea NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    op.execute("""
        CREATE TABLE asset_files (
            asset_id uuid NOT NULL REFERENCES assets (id),
            cid varchar(100) NOT NULL REFERENCES files (cid),
            attached_at timestamptz NOT NULL DEFAULT now(),
            attached_seq bigserial,
            PRIMARY KEY (asset_id, cid)
        )
    """)


def downgrade() -> None:
    op.execute("DROP TABLE asset_files")
    op.execute("DROP TABLE files")
