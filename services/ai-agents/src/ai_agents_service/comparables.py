"""Comparable sales: which past sales say what an asset is worth, and how much each says.

Pure functions over numpy arrays (no MeTTa, no I/O), so selection, the statistic
and the interval are deterministic and testable alone.

- Candidates are sales of the same asset type within LOOKBACK_DAYS before the
  pricing moment (never after it: no peeking at the future).
- Similarity (0..1) multiplies four feature closenesses: same region (1, else
  0.6), utility-feature count (-0.15 per feature of difference), co-creator count
  (-0.1 per co-creator, counted up to 6) and creator reputation (-0.8 per 100
  points of difference). Each has a floor, so no feature alone rules a sale out.
- Weight = similarity x 0.5 ** (age / HALF_LIFE_DAYS): a sale loses half its
  say every month. The MAX_COMPARABLES heaviest are the comparables.
- The statistic is the weighted median of the comparables' prices after their
  adjustment to the subject (time trend and the knowledge base's feature factors,
  see pricing.py): robust to an outlier sale, led by recent similar ones.
- The asking price's position is its mid-rank percentile among the comparables'
  raw prices (what a creator can check by hand).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np

LOOKBACK_DAYS = 180
HALF_LIFE_DAYS = 30.0
MAX_COMPARABLES = 25
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class SaleRecord:
    """One past sale with the sold asset's features, as the pricing agent sees it."""

    asset_id: str
    asset_type: str
    price: Decimal
    at: datetime
    region: str = "other"
    utility_count: int = 0
    co_creators: int = 1
    creator_reputation: int = 50
    # The recorded sale's id (the purchase id) when known: the same sale from the analytics
    # service and from an asset.sold event is counted once.
    sale_id: str = ""


@dataclass(frozen=True)
class Subject:
    """The asset being priced: the features similarity compares."""

    region: str
    utility_count: int
    co_creators: int
    creator_reputation: int


@dataclass(frozen=True)
class Comparable:
    """One chosen comparable sale: what it sold for, when, how similar, and its weight."""

    sale: SaleRecord
    similarity: float
    weight: float
    age_days: float


class SalesArrays:
    """The sales of one asset type as columns, oldest first (built once per facts generation)."""

    def __init__(self, sales: Sequence[SaleRecord]) -> None:
        ordered = sorted(sales, key=lambda s: s.at)
        self.sales = ordered
        self.t = np.array([s.at.timestamp() / SECONDS_PER_DAY for s in ordered], dtype=float)
        self.price = np.array([float(s.price) for s in ordered], dtype=float)
        self.region = np.array([s.region for s in ordered], dtype=object)
        self.utility = np.array([s.utility_count for s in ordered], dtype=float)
        self.co_creators = np.array([min(6, max(1, s.co_creators)) for s in ordered], dtype=float)
        self.reputation = np.array([s.creator_reputation for s in ordered], dtype=float)

    def __len__(self) -> int:
        return len(self.sales)


def similarity(subject: Subject, sales: SalesArrays, index: np.ndarray | slice = slice(None)) -> np.ndarray:
    """Feature similarity (0..1) of the subject to each sale at `index` (see the module docstring)."""
    region = np.where(sales.region[index] == subject.region, 1.0, 0.6)
    utility = np.maximum(0.4, 1 - 0.15 * np.abs(sales.utility[index] - subject.utility_count))
    co = np.maximum(0.5, 1 - 0.1 * np.abs(sales.co_creators[index] - min(6, max(1, subject.co_creators))))
    rep = np.maximum(0.2, 1 - 0.8 * np.abs(sales.reputation[index] - subject.creator_reputation) / 100)
    return np.asarray(region * utility * co * rep, dtype=float)


def select(subject: Subject, sales: SalesArrays, at: datetime, *, limit: int = MAX_COMPARABLES,
           exclude_asset: str = "") -> list[Comparable]:
    """The heaviest comparables sold before `at` (heaviest first; ties: the more recent first)."""
    now = at.timestamp() / SECONDS_PER_DAY
    lo = int(np.searchsorted(sales.t, now - LOOKBACK_DAYS, side="left"))
    hi = int(np.searchsorted(sales.t, now, side="left"))  # strictly before `at`
    if hi <= lo:
        return []
    index = np.arange(lo, hi)
    sim = similarity(subject, sales, index)
    age = now - sales.t[index]
    weight = sim * np.power(0.5, age / HALF_LIFE_DAYS)
    if exclude_asset:
        keep = np.array([sales.sales[i].asset_id != exclude_asset for i in index], dtype=bool)
        index, sim, age, weight = index[keep], sim[keep], age[keep], weight[keep]
    # lexsort: last key first -> by weight desc, then by age asc (deterministic).
    order = np.lexsort((age, -weight))[:limit]
    return [Comparable(sales.sales[int(index[i])], float(sim[i]), float(weight[i]), float(age[i])) for i in order]


def weighted_quantile(values: Sequence[float] | np.ndarray, weights: Sequence[float] | np.ndarray,
                      q: float) -> float:
    """The q-quantile (0..1) of values under weights: the smallest value whose cumulative weight reaches q.

    With q = 0.5 this is the weighted median (the lower one on an exact tie, so it is
    always one of the values).
    """
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    if len(v) == 0 or len(v) != len(w) or not np.all(w >= 0) or w.sum() <= 0:
        raise ValueError("weighted_quantile needs values with non-negative weights of positive sum")
    order = np.argsort(v, kind="stable")
    cum = np.cumsum(w[order]) / w.sum()
    pos = int(np.searchsorted(cum, q - 1e-12, side="left"))
    return float(v[order][min(pos, len(v) - 1)])


def percentile_of(price: Decimal, prices: Sequence[Decimal]) -> Decimal:
    """Mid-rank percentile (0..100) of `price` among `prices`: below counts 1, equal counts 1/2."""
    if not prices:
        raise ValueError("no prices to place the asking price among")
    below = sum(1 for p in prices if p < price)
    equal = sum(1 for p in prices if p == price)
    return (Decimal(100) * (Decimal(below) + Decimal(equal) / 2) / len(prices)).quantize(Decimal("1"))


def ordinal(n: int) -> str:
    """45 -> "45th", 1 -> "1st", 12 -> "12th"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def log_trend_per_day(t: np.ndarray, price: np.ndarray, now: float, window: float = 90.0) -> float:
    """Least-squares slope of log price per day over the last `window` days (0 with too few sales).

    Clamped to +/-1 %/day: a time adjustment must never explode on a burst of odd sales.
    """
    keep = (t >= now - window) & (t < now) & (price > 0)
    if keep.sum() < 20:
        return 0.0
    x = t[keep] - now
    y = np.log(price[keep])
    slope = float(np.polyfit(x, y, 1)[0])
    return max(-0.01, min(0.01, slope))
