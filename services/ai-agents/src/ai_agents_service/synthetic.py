"""A deterministic, seeded synthetic market: users, assets, sales and stakes.

It bootstraps the market model before real history exists, feeds demos
(`make demo-data`) and benchmarks, and gives tests and `make eval-agents` known
answers. The generating process:

- Users: region uniform over REGIONS, 1-4 skills, reputation ~ N(55, 22) clipped
  to 0..100.
- Assets: types in turn; region = the creator's; 0-3 utility features; 1-4
  co-creators. Each asset has a fixed *value* multiplier (`asset_value`) from its
  features: region (REGION_VALUE, 0.88..1.12), +7 % per utility feature, +4 %
  per extra co-creator (up to three), and the creator's reputation
  (0.8 + 0.4 x reputation/100). These numbers are the world's, deliberately not
  the knowledge base's factors.
- Sales per type and day ~ Poisson(DAILY_SALES[type] x WEEKLY_VOLUME[weekday] x
  (1 + 0.003 d)), d = day index: a weekly rhythm and a slow trend, so a model
  can beat a naive forecast. The asset sold is uniform among the type's assets.
- Sale price = MEAN_PRICE[type] x asset_value x WEEKLY_PRICE[weekday] x
  (1 + 0.002 d) x LogNormal(0, 0.12): comparable assets sell for comparable
  prices, recent sales say more than old ones, and no price is certain.
- Wash-trading rings (`wash_rings`): one asset cycling among the same three fresh
  wallets, 9 sales in 3 days at +12 % each; every planted sale is marked `wash`.
- Collaboration pairs (`collab_pairs`, default none): a requester whose `needs`
  (two skills it lacks) are exactly covered by one planted partner in the same
  region; decoys hold one of the two skills.

    python -m ai_agents_service.synthetic --out .data/demo --seed 7 --days 120
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import random
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from ipheron_libs.vocab import ASSET_TYPES

from ai_agents_service.domain import HistoryPoint

log = logging.getLogger(__name__)

REGIONS = ("north-america", "europe", "asia", "latin-america", "africa", "oceania", "middle-east")
SKILLS = (
    "illustration", "3d-modeling", "music-production", "mixing", "songwriting", "video-editing",
    "animation", "writing", "editing", "software-engineering", "smart-contracts", "ui-design",
    "branding", "patent-drafting", "legal", "marketing", "photography",
)
UTILITIES = ("commercial-license", "source-files", "streaming-rights", "remix-rights", "api-access", "updates")
# Mean sales per day and mean price (ETH) per asset type.
DAILY_SALES = {"art": 9.0, "music": 7.0, "video": 4.0, "literature": 3.0, "software": 5.0,
               "design": 6.0, "patent": 1.5, "trademark": 1.2, "other": 2.0}
MEAN_PRICE = {"art": 0.6, "music": 0.25, "video": 0.35, "literature": 0.12, "software": 1.1,
              "design": 0.3, "patent": 5.5, "trademark": 2.2, "other": 0.12}
# Monday..Sunday: weekends sell more, and a little dearer.
WEEKLY_VOLUME = (0.75, 0.8, 0.9, 1.0, 1.15, 1.45, 1.35)
WEEKLY_PRICE = (0.96, 0.97, 0.99, 1.0, 1.02, 1.05, 1.03)
# The world's regional price level (see the module docstring; not the KB's factors).
REGION_VALUE = {"north-america": 1.12, "europe": 1.08, "asia": 1.0, "oceania": 1.04, "middle-east": 1.0,
                "latin-america": 0.92, "africa": 0.88}
DEFAULT_END = date(2026, 10, 31)


@dataclass(frozen=True)
class User:
    id: str
    username: str
    wallet: str
    region: str
    skills: tuple[str, ...]
    reputation: int
    created_at: datetime


@dataclass(frozen=True)
class Asset:
    id: str
    name: str
    asset_type: str
    region: str
    creator_id: str
    creator_wallet: str
    price: Decimal
    utility_features: tuple[str, ...]
    co_creators: int
    content_hash: str
    created_at: datetime


@dataclass(frozen=True)
class Sale:
    id: str
    asset_id: str
    asset_type: str
    seller_wallet: str
    buyer_wallet: str
    price: Decimal
    at: datetime
    wash: bool = False


@dataclass(frozen=True)
class Stake:
    id: str
    asset_id: str
    wallet: str
    amount: Decimal
    duration_days: int
    at: datetime


@dataclass(frozen=True)
class CollabPair:
    """A planted collaboration: `partner_id` covers exactly the `needs` of `requester_id`."""

    requester_id: str
    partner_id: str
    needs: tuple[str, ...]


@dataclass(frozen=True)
class WashRing:
    asset_id: str
    wallets: tuple[str, ...]
    sale_ids: tuple[str, ...]


@dataclass
class Market:
    """One generated market; everything is a pure function of (seed, days, end)."""

    seed: int
    start: date
    end: date
    users: list[User] = field(default_factory=list)
    assets: list[Asset] = field(default_factory=list)
    sales: list[Sale] = field(default_factory=list)
    stakes: list[Stake] = field(default_factory=list)
    wash_rings: list[WashRing] = field(default_factory=list)
    collab_pairs: list[CollabPair] = field(default_factory=list)

    def user_by_wallet(self) -> dict[str, User]:
        return {u.wallet: u for u in self.users}

    def history_rows(self) -> list[HistoryPoint]:
        """Daily per-type aggregates (date, asset_type, sales, volume, avg_price), every day present."""
        agg: dict[tuple[date, str], list[Decimal]] = {}
        for sale in self.sales:
            agg.setdefault((sale.at.date(), sale.asset_type), []).append(sale.price)
        rows: list[HistoryPoint] = []
        day = self.start
        while day <= self.end:
            for asset_type in ASSET_TYPES:
                prices = agg.get((day, asset_type), [])
                volume = sum(prices, Decimal(0))
                avg = (volume / len(prices)).quantize(Decimal("0.000001")) if prices else Decimal(0)
                rows.append(HistoryPoint(date=day.isoformat(), asset_type=asset_type, sales=len(prices),
                                         volume=str(volume), avg_price=str(avg)))
            day += timedelta(days=1)
        return rows


def _id(rng: random.Random, prefix: str) -> str:
    return f"{prefix}-{rng.getrandbits(48):012x}"


def _wallet(rng: random.Random) -> str:
    return "0x" + f"{rng.getrandbits(160):040x}"


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method is fine for the small rates used here.
    limit, k, p = pow(2.718281828459045, -lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _money(value: float) -> Decimal:
    return Decimal(str(round(max(value, 0.001), 6)))


def asset_value(region: str, utility_features: int, co_creators: int, reputation: int) -> float:
    """The fixed price multiplier of an asset from its features (the world's rule, see above)."""
    return (REGION_VALUE.get(region, 1.0) * (1 + 0.07 * utility_features) * (1 + 0.04 * min(3, co_creators - 1))
            * (0.8 + 0.4 * reputation / 100))


def generate(seed: int = 7, days: int = 120, n_users: int = 60, n_assets: int = 180,
             end: date = DEFAULT_END, wash_rings: int = 2, collab_pairs: int = 0) -> Market:
    """Generate a market of `days` days ending on `end` (inclusive)."""
    if not 28 <= days <= 730:
        raise ValueError("days must be 28..730")
    rng = random.Random(seed)
    start = end - timedelta(days=days - 1)
    t0 = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    market = Market(seed=seed, start=start, end=end)

    for i in range(n_users):
        created = t0 - timedelta(days=rng.randint(30, 700))
        market.users.append(User(
            id=_id(rng, "usr"), username=f"creator{i:03d}", wallet=_wallet(rng),
            region=rng.choice(REGIONS), skills=tuple(sorted(rng.sample(SKILLS, rng.randint(1, 4)))),
            reputation=min(100, max(0, int(rng.gauss(55, 22)))), created_at=created,
        ))
    owners: dict[str, str] = {}
    previous: dict[str, str] = {}
    by_type: dict[str, list[Asset]] = {t: [] for t in ASSET_TYPES}
    value: dict[str, float] = {}
    for i in range(n_assets):
        creator = rng.choice(market.users)
        asset_type = ASSET_TYPES[i % len(ASSET_TYPES)]
        asset = Asset(
            id=_id(rng, "ast"), name=f"{asset_type.title()} work {i:04d}", asset_type=asset_type,
            region=creator.region, creator_id=creator.id, creator_wallet=creator.wallet,
            price=_money(MEAN_PRICE[asset_type] * rng.lognormvariate(0, 0.3)),
            utility_features=tuple(sorted(rng.sample(UTILITIES, rng.randint(0, 3)))),
            co_creators=rng.choice((1, 1, 1, 2, 2, 3, 4)),
            content_hash=hashlib.sha256(f"{seed}:{i}".encode()).hexdigest(),
            created_at=t0 - timedelta(days=rng.randint(1, 60)),
        )
        value[asset.id] = asset_value(asset.region, len(asset.utility_features), asset.co_creators,
                                      creator.reputation)
        asset = dataclasses.replace(asset, price=_money(float(asset.price) * value[asset.id]))
        market.assets.append(asset)
        by_type[asset_type].append(asset)
        owners[asset.id] = creator.wallet
    wallets = [u.wallet for u in market.users]

    for d in range(days):
        day = start + timedelta(days=d)
        trend = 1.0 + 0.003 * d
        for asset_type in ASSET_TYPES:
            lam = DAILY_SALES[asset_type] * WEEKLY_VOLUME[day.weekday()] * trend
            for _ in range(_poisson(rng, lam)):
                asset = rng.choice(by_type[asset_type])
                seller = owners[asset.id]
                buyer = rng.choice(wallets)
                # Honest traders never buy back what they just sold: A->B->A is the
                # round-trip pattern the risk rules look for, planted only in the rings.
                while buyer in (seller, previous.get(asset.id)):
                    buyer = rng.choice(wallets)
                price = _money(MEAN_PRICE[asset_type] * value[asset.id] * WEEKLY_PRICE[day.weekday()] * (1 + 0.002 * d)
                               * rng.lognormvariate(0, 0.12))
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(seconds=rng.randint(0, 86399))
                market.sales.append(Sale(_id(rng, "sal"), asset.id, asset_type, seller, buyer, price, at))
                previous[asset.id] = seller
                owners[asset.id] = buyer

    # Planted wash trading: one asset passed round three fresh wallets, 9 sales in 3 days.
    for r in range(wash_rings):
        ring_users = []
        for k in range(3):
            ring_users.append(User(
                id=_id(rng, "usr"), username=f"ring{r}-{k}", wallet=_wallet(rng), region=rng.choice(REGIONS),
                skills=("marketing",), reputation=5, created_at=t0 + timedelta(days=days - 20),
            ))
        market.users.extend(ring_users)
        asset_type = ("art", "music")[r % 2]
        asset = Asset(
            id=_id(rng, "ast"), name=f"Ring asset {r}", asset_type=asset_type, region=ring_users[0].region,
            creator_id=ring_users[0].id, creator_wallet=ring_users[0].wallet, price=_money(MEAN_PRICE[asset_type]),
            utility_features=(), co_creators=1, content_hash=hashlib.sha256(f"{seed}:ring{r}".encode()).hexdigest(),
            created_at=t0 + timedelta(days=days - 15),
        )
        market.assets.append(asset)
        ring_wallets = tuple(u.wallet for u in ring_users)
        at = datetime.combine(end - timedelta(days=5 + 4 * r), datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
        ring_price = float(asset.price)
        sale_ids = []
        for k in range(9):
            seller, buyer = ring_wallets[k % 3], ring_wallets[(k + 1) % 3]
            ring_price *= 1.12
            sale = Sale(_id(rng, "sal"), asset.id, asset_type, seller, buyer, _money(ring_price),
                        at + timedelta(hours=7 * k), wash=True)
            market.sales.append(sale)
            sale_ids.append(sale.id)
        market.wash_rings.append(WashRing(asset.id, ring_wallets, tuple(sale_ids)))

    for _ in range(n_assets // 2):
        asset = rng.choice(market.assets)
        market.stakes.append(Stake(
            id=_id(rng, "stk"), asset_id=asset.id, wallet=rng.choice(wallets),
            amount=_money(float(asset.price) * rng.uniform(0.1, 2.0)), duration_days=rng.choice((30, 90, 180, 365)),
            at=t0 + timedelta(days=rng.randint(0, days - 1)),
        ))
    _plant_collaborations(rng, market, collab_pairs, t0)
    market.sales.sort(key=lambda s: s.at)
    return market


def _plant_collaborations(rng: random.Random, market: Market, pairs: int, t0: datetime) -> None:
    """Requesters whose two needed skills one planted partner covers; decoys cover one (see above)."""
    for p in range(pairs):
        own, *needs = rng.sample(SKILLS, 3)
        region = rng.choice(REGIONS)
        requester = User(_id(rng, "usr"), f"seeker{p:02d}", _wallet(rng), region, (own,), 50, t0)
        partner = User(_id(rng, "usr"), f"partner{p:02d}", _wallet(rng), region, tuple(sorted(needs)),
                       rng.randint(40, 80), t0)
        decoys = [User(_id(rng, "usr"), f"decoy{p:02d}-{k}", _wallet(rng), rng.choice(REGIONS),
                       tuple(sorted({needs[k % 2], rng.choice(SKILLS)})), rng.randint(40, 95), t0) for k in range(3)]
        market.users.extend([requester, partner, *decoys])
        market.collab_pairs.append(CollabPair(requester.id, partner.id, tuple(sorted(needs))))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (Decimal,)):
        return str(obj)
    if isinstance(obj, (datetime, date)):
        return obj.isoformat()
    if isinstance(obj, (tuple, list)):
        return [_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    return obj


def write(market: Market, out: Path) -> list[Path]:
    """Write the market as JSON files plus a daily history CSV; returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for name, items in (("users", market.users), ("assets", market.assets), ("sales", market.sales),
                        ("stakes", market.stakes), ("wash_rings", market.wash_rings)):
        path = out / f"{name}.json"
        path.write_text(json.dumps([_jsonable(asdict(x)) for x in items], indent=1))
        files.append(path)
    history = out / "history.csv"
    rows = market.history_rows()
    lines = ["date,asset_type,sales,volume,avg_price"] + [
        f"{r.date},{r.asset_type},{r.sales},{r.volume},{r.avg_price}" for r in rows
    ]
    history.write_text("\n".join(lines) + "\n")
    files.append(history)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write JSON/CSV files into")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--assets", type=int, default=180)
    parser.add_argument("--end", type=date.fromisoformat, default=None, help="last day (default: today, UTC)")
    parser.add_argument("--analytics", default="", metavar="HOST:PORT",
                        help="also record the sales in this analytics service (RecordSales)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    end = args.end or datetime.now(UTC).date()
    market = generate(args.seed, args.days, args.users, args.assets, end)
    files = write(market, args.out)
    log.info("wrote %s users, %s assets, %s sales (%s planted wash sales), %s stakes to %s",
             len(market.users), len(market.assets), len(market.sales),
             sum(s.wash for s in market.sales), len(market.stakes), ", ".join(str(f) for f in files))
    if args.analytics:
        import asyncio

        from ai_agents_service.clients import push_to_analytics

        recorded = asyncio.run(push_to_analytics(market, args.analytics))
        log.info("recorded %s new sales in the analytics service at %s", recorded, args.analytics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
