"""Initial assets schema: assets, creators, provenance, sagas, and the libs outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op
from ipheron_libs import events

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Sort indexes end in `id` (the tie-breaker of every ORDER BY) and are plain
# ascending: PostgreSQL scans them backwards for DESC, DESC.
# Plain SQL: the generated tsvector column and partial indexes read better as SQL
# than as Alembic operations, and the search_path is already the service schema.
UPGRADE = """
CREATE TABLE assets (
    id uuid PRIMARY KEY,
    name varchar(200) NOT NULL,
    asset_type varchar(20) NOT NULL,
    price numeric(36, 18) NOT NULL CHECK (price > 0),
    royalty_rate numeric(5, 2) NOT NULL DEFAULT 10 CHECK (royalty_rate >= 0 AND royalty_rate <= 50),
    status varchar(20) NOT NULL,
    listed boolean NOT NULL DEFAULT true,
    metadata jsonb NOT NULL DEFAULT '{}'::jsonb,
    utility_features jsonb NOT NULL DEFAULT '[]'::jsonb,
    region varchar(100) NOT NULL DEFAULT 'Global',
    ipfs_hash varchar(200) NOT NULL,
    content_key varchar(200) NOT NULL,
    creator_user_id varchar(64) NOT NULL,
    owner_user_id varchar(64) NOT NULL,
    owner_wallet varchar(42) NOT NULL,
    token_id varchar(78),
    contract_address varchar(42),
    mint_tx_hash varchar(66),
    risk_score smallint,
    review_reasons jsonb NOT NULL DEFAULT '[]'::jsonb,
    reserved_by uuid,
    version integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A')
        || setweight(jsonb_to_tsvector('english'::regconfig, metadata, '["string"]'::jsonb), 'B')
    ) STORED,
    CONSTRAINT uq_assets_content_key UNIQUE (content_key)
);
CREATE INDEX ix_assets_search ON assets USING gin (search_vector);
CREATE INDEX ix_assets_status_created ON assets (status, created_at, id);
CREATE INDEX ix_assets_status_price ON assets (status, price, id);
CREATE INDEX ix_assets_type_status_created ON assets (asset_type, status, created_at, id);
CREATE INDEX ix_assets_created ON assets (created_at, id);
CREATE INDEX ix_assets_price ON assets (price, id);
CREATE INDEX ix_assets_name ON assets (name, id);
CREATE INDEX ix_assets_region ON assets (region);
CREATE INDEX ix_assets_owner_user ON assets (owner_user_id);
CREATE INDEX ix_assets_owner_wallet ON assets (lower(owner_wallet));

CREATE TABLE asset_creators (
    asset_id uuid NOT NULL REFERENCES assets (id),
    position smallint NOT NULL,
    user_id varchar(64) NOT NULL,
    wallet varchar(42) NOT NULL,
    share_percent numeric(5, 2) NOT NULL CHECK (share_percent > 0 AND share_percent <= 100),
    PRIMARY KEY (asset_id, position),
    CONSTRAINT uq_asset_creators_user UNIQUE (asset_id, user_id)
);
CREATE INDEX ix_asset_creators_user ON asset_creators (user_id);
CREATE INDEX ix_asset_creators_wallet ON asset_creators (lower(wallet));

CREATE TABLE provenance (
    id bigserial PRIMARY KEY,
    asset_id uuid NOT NULL REFERENCES assets (id),
    kind varchar(20) NOT NULL,
    tx_hash varchar(66) NOT NULL,
    block_number bigint,
    from_wallet varchar(42),
    to_wallet varchar(42),
    price numeric(36, 18),
    purchase_id uuid,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_provenance_entry UNIQUE (asset_id, kind, tx_hash)
);
CREATE INDEX ix_provenance_asset ON provenance (asset_id, id);

CREATE TABLE sagas (
    id uuid PRIMARY KEY,
    kind varchar(20) NOT NULL,
    asset_id uuid NOT NULL REFERENCES assets (id),
    actor_user_id varchar(64) NOT NULL,
    actor_wallet varchar(42) NOT NULL,
    idempotency_key varchar(200),
    state varchar(20) NOT NULL,
    data jsonb NOT NULL DEFAULT '{}'::jsonb,
    error_code varchar(40),
    error text,
    retryable boolean NOT NULL DEFAULT false,
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    lease_until timestamptz,
    lease_owner varchar(200),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_sagas_idempotency UNIQUE (kind, actor_user_id, idempotency_key)
);
CREATE INDEX ix_sagas_due ON sagas (next_attempt_at) WHERE state NOT IN ('completed', 'failed', 'held');
CREATE INDEX ix_sagas_asset ON sagas (asset_id);

"""

DOWNGRADE = """
DROP TABLE sagas;
DROP TABLE provenance;
DROP TABLE asset_creators;
DROP TABLE assets;
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)
    events.migration_upgrade(op)


def downgrade() -> None:
    events.migration_downgrade(op)
    for statement in DOWNGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)
