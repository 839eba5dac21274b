"""The facts the agents decide on: market history, recent trades and known assets.

History comes from the analytics service's GetMarketHistory RPC when it answers,
and from the synthetic market until then. Comparable sales (each sale with the
sold asset's features, for the pricing agent) come from asset.sold events, with
the features remembered from asset.created, and from the synthetic bootstrap. Recent trades (for wash-trading and
velocity checks) and known assets (for duplicate checks) arrive through events,
requests and the synthetic bootstrap; all stores are bounded. Every change bumps
`generation`, which invalidates the caches built on these facts.
"""

from __future__ import annotations

import difflib
import logging
import re
import threading
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from ai_agents_service import synthetic
from ai_agents_service.comparables import SaleRecord, SalesArrays
from ai_agents_service.domain import HistoryPoint

log = logging.getLogger(__name__)

MAX_TRADES_PER_ASSET = 64
MAX_TRADE_ASSETS = 200_000
MAX_KNOWN_ASSETS = 200_000
MAX_SALES_PER_TYPE = 5_000
MAX_SALE_IDS = 100_000


@dataclass(frozen=True)
class AssetFeatures:
    """What the pricing agent's similarity needs of a sold asset (remembered from asset.created)."""

    region: str
    utility_count: int
    co_creators: int
    creator_reputation: int


@dataclass(frozen=True)
class TradeFact:
    """One sale as the risk agent sees it; `sale_id` names a recorded sale (the purchase id)."""

    asset_id: str
    seller: str
    buyer: str
    price: Decimal
    at: datetime | None
    sale_id: str = ""

    @property
    def key(self) -> str:
        """The sale's identity: its id, or (asset, seller, buyer, time) for a sale without one."""
        if self.sale_id:
            return self.sale_id
        return f"{self.asset_id}:{self.seller}:{self.buyer}:{self.at.isoformat() if self.at else ''}"


@dataclass(frozen=True)
class Indicators:
    """Market indicators for one asset type, in percent (see pricing.metta / market.metta)."""

    asset_type: str
    volume_ratio_pct: Decimal  # last 7 days' sales vs the 28-day daily average x 7
    price_trend_pct: Decimal  # 7-day average price vs the previous 7 days
    volume_change_pct: Decimal  # last 7 days' sales vs the previous 7 days
    volatility_pct: Decimal  # coefficient of variation of daily average price, 28 days
    last_avg_price: Decimal


def normalize_name(name: str) -> str:
    """Case-, accent- and punctuation-insensitive form of an asset name."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def _is_perceptual(key: str) -> bool:
    return 8 <= len(key) <= 16 and all(c in "0123456789abcdef" for c in key)


def _pct(new: float, old: float) -> Decimal:
    if old <= 0:
        return Decimal(0) if new <= 0 else Decimal(100)
    return Decimal(str(round((new / old - 1) * 100, 2)))


def indicators_from_history(asset_type: str, history: pd.DataFrame) -> Indicators:
    """Compute the indicators from a daily frame with columns sales, avg_price (date-indexed)."""
    if history.empty:
        zero = Decimal(0)
        return Indicators(asset_type, Decimal(100), zero, zero, zero, zero)
    sales = history["sales"].astype(float).to_numpy()
    prices = history["avg_price"].astype(float).to_numpy()
    last7, prev7 = sales[-7:], sales[-14:-7]
    avg28 = sales[-28:].mean() if len(sales) else 0.0
    volume_ratio = Decimal(str(round(last7.sum() / (avg28 * 7) * 100, 2))) if avg28 > 0 else Decimal(100)
    priced = prices[-28:][sales[-28:] > 0]
    p_last = prices[-7:][sales[-7:] > 0]
    p_prev = prices[-14:-7][sales[-14:-7] > 0]
    trend = _pct(float(p_last.mean()), float(p_prev.mean())) if len(p_last) and len(p_prev) else Decimal(0)
    volatility = (
        Decimal(str(round(float(np.std(priced) / np.mean(priced) * 100), 2))) if len(priced) > 1 else Decimal(0)
    )
    last_price = Decimal(str(round(float(p_last.mean()), 6))) if len(p_last) else Decimal(0)
    return Indicators(
        asset_type=asset_type,
        volume_ratio_pct=volume_ratio,
        price_trend_pct=trend,
        volume_change_pct=_pct(float(last7.sum()), float(prev7.sum())) if len(prev7) else Decimal(0),
        volatility_pct=volatility,
        last_avg_price=last_price,
    )


def history_frame(rows: Iterable[HistoryPoint]) -> dict[str, pd.DataFrame]:
    """Split history points into one daily frame (sales, avg_price) per asset type."""
    frame = pd.DataFrame([asdict(r) for r in rows])
    if frame.empty:
        return {}
    frame["date"] = pd.to_datetime(frame["date"])
    frame["sales"] = frame["sales"].astype(float)
    frame["avg_price"] = frame["avg_price"].astype(float)
    out = {}
    for asset_type, part in frame.groupby("asset_type"):
        daily = part.set_index("date").sort_index()[["sales", "avg_price"]]
        full = pd.date_range(daily.index.min(), daily.index.max(), freq="D")
        daily = daily.reindex(full).fillna({"sales": 0.0})
        # A day without sales has no price: carry the last price so the series stays usable.
        daily["avg_price"] = daily["avg_price"].where(daily["sales"] > 0).ffill().bfill().fillna(0.0)
        out[str(asset_type)] = daily
    return out


class MarketData:
    """Thread-safe, bounded fact stores shared by the agents."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self.source = "synthetic"
        self._history: dict[str, pd.DataFrame] = {}
        self._indicators: dict[str, Indicators] = {}
        self._trades: OrderedDict[str, deque[TradeFact]] = OrderedDict()
        self._buys: OrderedDict[str, deque[datetime]] = OrderedDict()
        self._hashes: OrderedDict[str, str] = OrderedDict()
        self._phashes: OrderedDict[str, tuple[int, str]] = OrderedDict()
        self._names: OrderedDict[str, str] = OrderedDict()
        self._name_prefix: dict[str, dict[str, str]] = {}
        self._sales: dict[str, deque[SaleRecord]] = {}
        self._sales_arrays: dict[str, tuple[int, SalesArrays]] = {}
        self._features: OrderedDict[str, AssetFeatures] = OrderedDict()
        self._sale_ids: OrderedDict[str, None] = OrderedDict()
        self.sales_source = ""

    # -- comparable sales

    def add_sales(self, sales: Iterable[SaleRecord]) -> int:
        """Remember sales with their assets' features (bounded per type; a sale id seen
        before is ignored); returns how many were new."""
        added = 0
        with self._lock:
            for sale in sales:
                if sale.sale_id:
                    if sale.sale_id in self._sale_ids:
                        continue
                    self._sale_ids[sale.sale_id] = None
                    if len(self._sale_ids) > MAX_SALE_IDS:
                        self._sale_ids.popitem(last=False)
                log_ = self._sales.get(sale.asset_type)
                if log_ is None:
                    log_ = self._sales[sale.asset_type] = deque(maxlen=MAX_SALES_PER_TYPE)
                log_.append(sale)
                added += 1
            self.generation += 1
        return added

    def sales_count(self, asset_type: str | None = None) -> int:
        """Comparable sales held (of one type, or all)."""
        with self._lock:
            if asset_type is not None:
                return len(self._sales.get(asset_type, ()))
            return sum(len(v) for v in self._sales.values())

    def sales_arrays(self, asset_type: str) -> SalesArrays:
        """The type's sales as columns, built once per facts generation."""
        with self._lock:
            generation = self.generation
            cached = self._sales_arrays.get(asset_type)
            if cached is not None and cached[0] == generation:
                return cached[1]
            sales = list(self._sales.get(asset_type, ()))
        arrays = SalesArrays(sales)
        with self._lock:
            self._sales_arrays[asset_type] = (generation, arrays)
        return arrays

    def remember_features(self, asset_id: str, features: AssetFeatures) -> None:
        with self._lock:
            self._features[asset_id] = features
            self._features.move_to_end(asset_id)
            while len(self._features) > MAX_KNOWN_ASSETS:
                self._features.popitem(last=False)

    def features_of(self, asset_id: str) -> AssetFeatures | None:
        with self._lock:
            return self._features.get(asset_id)

    # -- history

    def set_history(self, rows: Iterable[HistoryPoint], source: str) -> None:
        """Replace the market history (from analytics or the synthetic market)."""
        frames = history_frame(rows)
        with self._lock:
            self._history = frames
            self._indicators.clear()
            self.source = source
            self.generation += 1

    def history(self, asset_type: str) -> pd.DataFrame:
        with self._lock:
            return self._history.get(asset_type, pd.DataFrame(columns=["sales", "avg_price"]))

    def asset_types(self) -> list[str]:
        with self._lock:
            return sorted(self._history)

    def indicators(self, asset_type: str) -> Indicators:
        """Indicators per type, computed once per facts generation."""
        with self._lock:
            cached = self._indicators.get(asset_type)
            frame = self._history.get(asset_type)
        if cached is not None:
            return cached
        result = indicators_from_history(asset_type, frame if frame is not None else pd.DataFrame())
        with self._lock:
            self._indicators[asset_type] = result
        return result

    # -- trades

    def add_trades(self, trades: Iterable[TradeFact]) -> None:
        with self._lock:
            for t in trades:
                log_ = self._trades.get(t.asset_id)
                if log_ is None:
                    log_ = self._trades[t.asset_id] = deque(maxlen=MAX_TRADES_PER_ASSET)
                    if len(self._trades) > MAX_TRADE_ASSETS:
                        self._trades.popitem(last=False)
                if any(x == t for x in log_):
                    continue  # at-least-once delivery: the same sale may arrive twice
                log_.append(t)
                buys = self._buys.get(t.buyer)
                if buys is None:
                    buys = self._buys[t.buyer] = deque(maxlen=MAX_TRADES_PER_ASSET)
                    if len(self._buys) > MAX_TRADE_ASSETS:
                        self._buys.popitem(last=False)
                if t.at is not None:
                    buys.append(t.at)
            self.generation += 1

    def trades_of(self, asset_id: str) -> list[TradeFact]:
        with self._lock:
            return sorted(self._trades.get(asset_id, ()), key=lambda t: t.at or datetime.min.replace(tzinfo=UTC))

    def buys_between(self, wallet: str, since: datetime, until: datetime) -> int:
        """Purchases by a wallet in [since, until)."""
        with self._lock:
            return sum(1 for at in self._buys.get(wallet, ()) if since <= at < until)

    # -- known assets

    def add_assets(self, assets: Iterable[tuple[str, str, str]]) -> None:
        """Remember (asset id, name, content hash) for duplicate checks."""
        with self._lock:
            for asset_id, name, content_hash in assets:
                if content_hash:
                    key = content_hash.strip().lower()
                    self._hashes[key] = asset_id
                    if _is_perceptual(key):
                        self._phashes[key] = (int(key, 16), asset_id)
                if name:
                    norm = normalize_name(name)
                    self._names[norm] = asset_id
                    first = norm.split(" ", 1)[0]
                    self._name_prefix.setdefault(first, {})[norm] = asset_id
            for store in (self._hashes, self._phashes, self._names):
                while len(store) > MAX_KNOWN_ASSETS:
                    store.popitem(last=False)
            self.generation += 1

    def find_content(self, content_hash: str, exclude: str = "") -> tuple[str, str]:
        """("exact"|"near"|"none", matching asset id) for a content hash.

        Near: a perceptual hash (hex, up to 64 bits) within 6 bits of a known one.
        """
        key = content_hash.strip().lower()
        if not key:
            return "none", ""
        with self._lock:
            hit = self._hashes.get(key)
            if hit and hit != exclude:
                return "exact", hit
            if _is_perceptual(key):
                value = int(key, 16)
                for other, asset_id in self._phashes.values():
                    if asset_id != exclude and (value ^ other).bit_count() <= 6:
                        return "near", asset_id
        return "none", ""

    def find_name(self, name: str, exclude: str = "") -> tuple[str, str]:
        """("exact"|"near"|"none", matching asset id) for a name (normalised, then >= 0.9 similar)."""
        norm = normalize_name(name)
        if not norm:
            return "none", ""
        with self._lock:
            hit = self._names.get(norm)
            if hit and hit != exclude:
                return "exact", hit
            # Near matches share the first word; this keeps the comparison set small.
            same_start = list(self._name_prefix.get(norm.split(" ", 1)[0], {}).items())[:500]
        for other, asset_id in same_start:
            if asset_id != exclude and difflib.SequenceMatcher(None, norm, other).ratio() >= 0.9:
                return "near", asset_id
        return "none", ""

    # -- bootstrap

    def load_synthetic(self, market: synthetic.Market) -> None:
        """Bootstrap every store from a synthetic market."""
        self.set_history(market.history_rows(), "synthetic")
        self.add_trades(TradeFact(s.asset_id, s.seller_wallet, s.buyer_wallet, s.price, s.at, s.id)
                        for s in market.sales)
        self.add_assets((a.id, a.name, a.content_hash) for a in market.assets)
        self.add_sales(synthetic_sales(market))


def synthetic_sales(market: synthetic.Market) -> list[SaleRecord]:
    """A synthetic market's sales with their assets' features (creator reputation from its users)."""
    reputation = {u.id: u.reputation for u in market.users}
    assets = {a.id: a for a in market.assets}
    out = []
    for s in market.sales:
        a = assets[s.asset_id]
        out.append(SaleRecord(s.asset_id, s.asset_type, s.price, s.at, a.region, len(a.utility_features),
                              a.co_creators, reputation.get(a.creator_id, 50), s.id))
    return out


def now() -> datetime:
    return datetime.now(UTC)


def within(at: datetime, reference: datetime, hours: int) -> bool:
    return reference - timedelta(hours=hours) <= at <= reference
