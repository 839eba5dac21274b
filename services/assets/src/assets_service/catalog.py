"""A synthetic catalog of N assets written straight into the assets schema with COPY.

For benchmarks and query-plan tests at scale (10,000 / 1,000,000 assets): minting each
asset through the API and the embedded EVM would take hours, and browsing does not depend
on how a row got there. The distribution is shaped like a real marketplace: asset types
skewed towards art and music, log-normal prices (most under 1 ETH, a long tail to
thousands), a Zipf-like creator population (a few prolific creators, many with one or two
assets; 1..3 co-creators), names and descriptions from a vocabulary with Zipf-like word
frequencies (so full-text queries range from very common to rare words), newer assets more
frequent than old ones over two years, and ~92 % of the catalog active.

No asset is under a signed listing (`listed` is false): an order needs a real signature.

    python -m assets_service.catalog --rows 1000000 [--database-url URL] [--seed 1]

(`make catalog N=1000000` runs it against DATABASE_URL.) On an empty table the secondary
indexes are dropped before the COPY and rebuilt after it (much faster than maintaining them
row by row), then the table is VACUUM ANALYZEd, as autovacuum would.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import logging
import math
import os
import random
import time
import uuid
from collections.abc import Iterator

import orjson
from ipheron_libs import db
from ipheron_libs.vocab import ASSET_TYPES
from sqlalchemy import Engine, text

from assets_service.config import SCHEMA

log = logging.getLogger("assets.catalog")

# Share of each asset type (same order as ASSET_TYPES).
TYPE_WEIGHTS = {"art": 30, "music": 20, "video": 10, "literature": 8, "software": 9, "design": 10, "patent": 5,
                "trademark": 3, "other": 5}
assert set(TYPE_WEIGHTS) == set(ASSET_TYPES)
STATUS_WEIGHTS = {"active": 92, "pending_review": 4, "archived": 2, "pending": 1, "failed": 1}
REGIONS = ["Global", "EU", "US", "Asia", "LatAm", "Africa", "Oceania"]
REGION_WEIGHTS = [40, 20, 20, 12, 4, 2, 2]
FEATURES = ["commercial-use", "remix", "resale", "exclusive", "sync-license", "print", "source-code", "api-access"]
# Words of names and descriptions; the order is the frequency rank (the first is the most
# frequent, weight 1/rank), so "aurora" is common and "zephyr" is rare.
_VOCABULARY = """
light dark blue red gold green silver night dawn city ocean river forest mountain dream echo shadow
fire stone glass storm rain snow wind sun moon star sky cloud wave pulse beat rhythm melody harmony
piano guitar violin drum bass synth loop vocal choir orchestra jazz blues soul funk techno ambient
portrait landscape abstract sketch watercolour oil canvas sculpture photo print poster mural neon
pixel vector render model texture shader font logo icon brand pattern fabric chair lamp house bridge
engine sensor battery solar cell circuit chip protocol algorithm compiler library plugin app game
novel poem story essay script chapter verse legend myth saga journal letter manual guide atlas
aurora nocturne sonata requiem fugue prelude etude rhapsody serenade ballad anthem elegy lullaby
crimson amber cobalt emerald ivory obsidian scarlet violet azure ochre sepia umber teal magenta
quantum fractal vortex nebula comet galaxy orbit eclipse zenith horizon meridian equinox solstice
harbor lighthouse canyon glacier desert meadow orchard garden island lagoon reef volcano tundra
falcon raven wolf tiger dragon phoenix serpent owl fox bear whale heron lynx stag hare moth
copper iron velvet marble bronze crystal paper silk linen cedar oak maple willow birch pine
whisper thunder silence spark ember frost bloom drift tide mist haze glow flare gleam shimmer zephyr
"""
WORDS = _VOCABULARY.split()
_WORD_CUM = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(WORDS))))
_START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
_SPAN_S = 730 * 86400

ASSET_COLUMNS = ("id", "name", "asset_type", "price", "royalty_rate", "status", "listed", "metadata",
                 "utility_features", "region", "ipfs_hash", "content_key", "creator_user_id", "owner_user_id",
                 "owner_wallet", "token_id", "contract_address", "mint_tx_hash", "risk_score", "version",
                 "created_at", "updated_at")
CREATOR_COLUMNS = ("asset_id", "position", "user_id", "wallet", "share_percent")
_NULL = "\\N"


def _words(rng: random.Random, k: int) -> list[str]:
    return rng.choices(WORDS, cum_weights=_WORD_CUM, k=k)


def _price(rng: random.Random) -> str:
    """Log-normal around 0.4 ETH, 4 decimals, within the API's bounds (0.0001 .. 9,999,999)."""
    value = min(max(math.exp(rng.gauss(math.log(0.4), 1.4)), 0.0001), 9_999_999.0)
    return f"{value:.4f}"


def _created(rng: random.Random) -> dt.datetime:
    # sqrt of a uniform: density grows linearly towards now (the catalog grows over time).
    return _START + dt.timedelta(seconds=int(_SPAN_S * math.sqrt(rng.random())))


def rows(n: int, seed: int = 1) -> Iterator[tuple[str, list[str]]]:
    """(an assets COPY line, its asset_creators COPY lines) for n synthetic assets."""
    rng = random.Random(seed)
    n_creators = max(10, n // 8)
    # Zipf-like population: creator k is picked with weight 1/(k+1)^0.9.
    creator_cum = list(itertools.accumulate(1.0 / (k + 1) ** 0.9 for k in range(n_creators)))
    types, type_w = list(TYPE_WEIGHTS), list(TYPE_WEIGHTS.values())
    statuses, status_w = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    contract = "0x" + "c0" * 20
    for i in range(n):
        aid = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        creators = sorted(set(rng.choices(range(n_creators), cum_weights=creator_cum, k=rng.choice((1, 1, 1, 2, 3)))))
        owner = creators[0]
        asset_type = rng.choices(types, type_w)[0]
        status = rng.choices(statuses, status_w)[0]
        name = " ".join(w.capitalize() for w in _words(rng, rng.randint(2, 4)))
        metadata = {"description": " ".join(_words(rng, rng.randint(8, 20))), "tags": _words(rng, 3)}
        features = rng.sample(FEATURES, rng.randint(0, 3))
        created = _created(rng)
        minted = status in ("active", "archived")
        line = "\t".join((
            aid, name, asset_type, _price(rng), str(rng.choice((5, 10, 10, 10, 15, 20))), status, "f",
            orjson.dumps(metadata).decode(), orjson.dumps(features).decode(),
            rng.choices(REGIONS, REGION_WEIGHTS)[0], f"bafkcatalog{i:012d}", f"catalog:{seed}:{i}",
            f"cu{owner}", f"cu{owner}", f"0x{owner:040x}",
            str(i + 1) if minted else _NULL, contract if minted else _NULL,
            f"0x{i:064x}" if minted else _NULL, str(rng.randint(0, 60)), "1",
            created.isoformat(), created.isoformat()))
        shares = _shares(len(creators))
        creator_lines = [f"{aid}\t{pos}\tcu{c}\t0x{c:040x}\t{share}"
                         for pos, (c, share) in enumerate(zip(creators, shares, strict=True))]
        yield line, creator_lines


def _shares(k: int) -> list[str]:
    """k shares in percent, two decimals, summing to exactly 100."""
    base = (10000 // k)
    cents = [base] * k
    cents[0] += 10000 - base * k
    return [f"{c // 100}.{c % 100:02d}" for c in cents]


def _secondary_indexes(engine: Engine) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the assets/asset_creators indexes that back no constraint."""
    with engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = :s "
            "AND i.tablename IN ('assets', 'asset_creators') AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
            "JOIN pg_class ci ON ci.oid = c.conindid WHERE ci.relname = i.indexname AND c.connamespace = "
            "(SELECT oid FROM pg_namespace WHERE nspname = :s))"), {"s": SCHEMA})]


def load(engine: Engine, n: int, *, seed: int = 1, batch: int = 20_000) -> float:
    """COPY n synthetic assets (and their creators) into the schema; returns the seconds taken."""
    started = time.perf_counter()
    with engine.connect() as conn:
        empty = conn.execute(text("SELECT NOT EXISTS (SELECT 1 FROM assets)")).scalar_one()
    dropped = _secondary_indexes(engine) if empty and n >= 50_000 else []
    raw = engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cur:
            for name, _ in dropped:
                cur.execute(f'DROP INDEX "{name}"')  # names read from pg_indexes just above
            assets_copy = f"COPY assets ({', '.join(ASSET_COLUMNS)}) FROM STDIN"
            creators_copy = f"COPY asset_creators ({', '.join(CREATOR_COLUMNS)}) FROM STDIN"
            it = rows(n, seed)
            while True:
                chunk = list(itertools.islice(it, batch))
                if not chunk:
                    break
                with cur.copy(assets_copy) as copy:
                    copy.write("".join(line + "\n" for line, _ in chunk))
                with cur.copy(creators_copy) as copy:
                    copy.write("".join(c + "\n" for _, cs in chunk for c in cs))
            # Index builds may use more memory than a row-by-row insert would.
            cur.execute("SET maintenance_work_mem = '256MB'")
            for _, statement in dropped:
                cur.execute(statement)
        pg.commit()
    finally:
        raw.close()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # As autovacuum would: statistics for the planner, the visibility map for index-only
        # scans, and the GIN pending list flushed.
        conn.execute(text("VACUUM ANALYZE assets"))
        conn.execute(text("VACUUM ANALYZE asset_creators"))
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="COPY a synthetic catalog of N assets into the assets schema.")
    parser.add_argument("--rows", type=int, required=True, help="number of assets, e.g. 10000 or 1000000")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL", ""),
                        help="the assets service's database URL (default: DATABASE_URL)")
    parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same catalog")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if not args.database_url:
        parser.error("--database-url or DATABASE_URL is required")
    engine = db.make_engine(args.database_url, SCHEMA, pool_size=1, max_overflow=0)
    try:
        seconds = load(engine, args.rows, seed=args.seed)
    finally:
        engine.dispose()
    log.info("loaded %s assets in %.1f s (%.0f rows/s)", args.rows, seconds, args.rows / max(seconds, 1e-9))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
