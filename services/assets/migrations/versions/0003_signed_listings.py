"""Signed listings (EIP-712 orders), buyer-paid purchases, and the chain events applied.

- `listings`: one row per signed order; at most one ACTIVE per asset (partial unique index).
- `sagas` gains the columns the chain events find a purchase by (order hash, tx hash) and
  its payment deadline; purchase sagas of the platform-paid flow still in flight are failed
  (that flow and its contract are gone).
- `applied_chain_events`: the chain event ids already applied (at-least-once delivery is
  deduplicated in the transaction of the effect) with what each changed, so a reorg's
  `chain.event.reverted` can undo exactly that.
- An asset is no longer for sale by default: only under an order its owner signed.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE listings (
    id uuid PRIMARY KEY,
    asset_id uuid NOT NULL REFERENCES assets (id),
    order_hash varchar(66) NOT NULL,
    order_json jsonb NOT NULL,
    signature text NOT NULL,
    seller_wallet varchar(42) NOT NULL,
    price numeric(36, 18) NOT NULL CHECK (price > 0),
    price_wei numeric(78, 0) NOT NULL CHECK (price_wei > 0),
    start_time timestamptz NOT NULL,
    end_time timestamptz NOT NULL,
    counter numeric(78, 0) NOT NULL,
    state varchar(20) NOT NULL,
    reason text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT uq_listings_order_hash UNIQUE (order_hash),
    CONSTRAINT ck_listings_state CHECK (state IN ('active', 'cancelled', 'superseded', 'filled', 'invalid'))
);
CREATE UNIQUE INDEX uq_listings_one_active ON listings (asset_id) WHERE state = 'active';
CREATE INDEX ix_listings_asset ON listings (asset_id, created_at);
CREATE INDEX ix_listings_seller_active ON listings (lower(seller_wallet)) WHERE state = 'active';
CREATE INDEX ix_listings_end_active ON listings (end_time) WHERE state = 'active';

ALTER TABLE sagas ADD COLUMN order_hash varchar(66);
ALTER TABLE sagas ADD COLUMN tx_hash varchar(66);
ALTER TABLE sagas ADD COLUMN expires_at timestamptz;
CREATE INDEX ix_sagas_open_order ON sagas (order_hash)
    WHERE kind = 'purchase' AND state IN ('awaiting_payment', 'submitted');
CREATE INDEX ix_sagas_tx ON sagas (tx_hash) WHERE tx_hash IS NOT NULL;

UPDATE sagas SET state = 'failed', error_code = 'ABORTED',
    error = 'the platform-paid purchase flow was retired; nothing was charged', lease_until = NULL
    WHERE kind = 'purchase' AND state IN ('reserved', 'buying');
UPDATE sagas SET state = 'completed' WHERE kind = 'purchase' AND state IN ('bought', 'recorded');
UPDATE assets SET reserved_by = NULL, listed = false;
CREATE INDEX ix_assets_token ON assets (token_id) WHERE token_id IS NOT NULL;
ALTER TABLE assets ALTER COLUMN listed SET DEFAULT false;

CREATE TABLE applied_chain_events (
    event_id uuid PRIMARY KEY,
    event_type varchar(64) NOT NULL,
    tx_hash varchar(66),
    asset_id uuid,
    effect jsonb NOT NULL DEFAULT '{}'::jsonb,
    reverted boolean NOT NULL DEFAULT false,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ix_applied_chain_events_tx ON applied_chain_events (tx_hash, event_type)
"""

DOWNGRADE = """
DROP TABLE applied_chain_events;
DROP INDEX ix_assets_token;
ALTER TABLE assets ALTER COLUMN listed SET DEFAULT true;
DROP INDEX ix_sagas_tx;
DROP INDEX ix_sagas_open_order;
ALTER TABLE sagas DROP COLUMN expires_at;
ALTER TABLE sagas DROP COLUMN tx_hash;
ALTER TABLE sagas DROP COLUMN order_hash;
DROP TABLE listings
"""


def upgrade() -> None:
    for statement in UPGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for statement in DOWNGRADE.split(";\n"):
        if statement.strip():
            op.execute(statement)
