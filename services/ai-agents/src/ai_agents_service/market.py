"""Market agent: scikit-learn forecasts of daily volume and average price per asset
type, and a bullish/neutral/bearish sentiment from the rules in kb/market.metta.

Features (pandas, from the daily history): lags 1, 2, 3, 7 and 14, 7- and 28-day
means, day of week (one-hot) and a time index. One ridge regression per type and
target, forecasting recursively day by day. Validation: the model is fitted
without the last `holdout` days and forecasts them; its MAE is stored beside the
MAE of the naive last-value forecast. The deployed model is then refitted on all
days.

The interval is an 80 % interval from validated errors: a rolling-origin backtest
(ORIGINS origins a week apart, the last one `holdout` days before the end, each
model fitted only on the days before its origin) gives signed errors e(h) at each
horizon h = 1..holdout. Each is scaled by s(h) = sqrt(1 + (h - 1) / holdout) and by
the forecast's level, l(f) = sqrt(max(f, 1)) for sales (counts vary like a Poisson
count) and f for prices (errors are relative), so a growing market keeps its
interval honest. The scaled errors' conformal 10th/90th percentiles q10, q90 give
[f + q10 s(h) l(f), f + q90 s(h) l(f)]: wider with the horizon by construction,
and never narrower than MIN_HALF (a floor, so an interval never claims certainty).
With fewer days than the KB's `(level-bounds history sufficient N)` there is no
model: the forecast is the recent mean, the rule `insufficient-history` fires and
its value sets a wide interval.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
from ipheron_libs.errors import FailedPrecondition, InvalidArgument
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from ai_agents_service.domain import FiredRule, factor
from ai_agents_service.engine import RulePool
from ai_agents_service.market_data import MarketData

log = logging.getLogger(__name__)

MODULE = "market"
LAGS = (1, 2, 3, 7, 14)
WARMUP = 28
HOLDOUT_DAYS = 14
MAX_DAYS = 90
TARGETS = ("sales", "avg_price")
ORIGINS = 6
INTERVAL = (0.1, 0.9)
# Smallest interval half-width: sales (count) and price (fraction of the forecast).
MIN_HALF = {"sales": 0.5, "avg_price": 0.01}
MIN_DAYS = WARMUP + HOLDOUT_DAYS + 14


def horizon_scale(h: int, holdout: int = HOLDOUT_DAYS) -> float:
    """s(h): how much wider the interval is h days ahead than one day ahead."""
    return math.sqrt(1 + (h - 1) / holdout)


def level_scale(value: float, target: str) -> float:
    """l(f): how errors grow with the forecast's level (see the module docstring)."""
    return math.sqrt(max(value, 1.0)) if target == "sales" else max(value, 1e-9)


def interval(value: float, h: int, q10: float, q90: float, target: str) -> tuple[float, float]:
    """The 80 % interval around a forecast `value` h days ahead (see the module docstring)."""
    s = horizon_scale(h) * level_scale(value, target)
    floor = MIN_HALF[target] * (value if target == "avg_price" else 1.0) * horizon_scale(h)
    floor = max(floor, 1e-6)
    return value + min(q10 * s, -floor), value + max(q90 * s, floor)


def conformal_quantiles(scaled: list[float]) -> tuple[float, float]:
    """The 10th/90th percentiles with the split-conformal finite-sample correction (ceil((n+1)p)/n)."""
    n = len(scaled)
    hi = min(1.0, math.ceil((n + 1) * INTERVAL[1]) / n)
    return float(np.quantile(scaled, 1 - hi)), float(np.quantile(scaled, hi))


def _row(past: np.ndarray, day: pd.Timestamp, index: int) -> np.ndarray:
    """Features of the day at position `index` of a series, from its past values only."""
    dow = np.zeros(7)
    dow[day.dayofweek] = 1.0
    lags = [past[-lag] for lag in LAGS]
    return np.concatenate([lags, [past[-7:].mean(), past[-28:].mean(), float(index)], dow])


def fit(values: np.ndarray, dates: pd.DatetimeIndex) -> Pipeline:
    """Fit one model on a daily series (at least WARMUP + 14 days)."""
    x = np.array([_row(values[:i], dates[i], i) for i in range(WARMUP, len(values))])
    model = make_pipeline(StandardScaler(), Ridge(alpha=3.0))
    model.fit(x, values[WARMUP:])
    return model


def forecast(model: Pipeline, values: np.ndarray, dates: pd.DatetimeIndex, days: int) -> np.ndarray:
    """Forecast `days` days after the series, feeding each prediction back as history."""
    series = list(values)
    day = dates[-1]
    out = []
    for _ in range(days):
        day = day + pd.Timedelta(days=1)
        value = max(0.0, float(model.predict(_row(np.array(series), day, len(series)).reshape(1, -1))[0]))
        out.append(value)
        series.append(value)
    return np.array(out)


@dataclass
class TargetModel:
    model: Pipeline
    mae: float
    baseline_mae: float
    # 10th and 90th percentiles of the backtest's scaled signed errors, and how many there were.
    q10: float
    q90: float
    errors: int


@dataclass
class TypeModel:
    """The deployed models of one asset type and how they validated."""

    asset_type: str
    version: str
    trained_at: datetime
    rows: int
    last_date: date
    targets: dict[str, TargetModel] = field(default_factory=dict)


def validate_and_fit(asset_type: str, history: pd.DataFrame, holdout: int = HOLDOUT_DAYS) -> TypeModel:
    """Validate on the last `holdout` days against the naive forecast, then refit on everything."""
    if len(history) < WARMUP + holdout + 14:
        raise FailedPrecondition(f"not enough history for {asset_type}: {len(history)} days")
    origins = [len(history) - holdout - 7 * k for k in range(ORIGINS)]
    origins = [o for o in origins if o >= WARMUP + 14]
    digest = hashlib.sha256(pd.util.hash_pandas_object(history).to_numpy().tobytes()).hexdigest()[:8]
    trained_at = datetime.now(UTC)
    result = TypeModel(asset_type, f"{trained_at:%Y%m%dT%H%M%S%f}-{asset_type}-{digest}", trained_at, len(history),
                       history.index[-1].date())
    for target in TARGETS:
        values = history[target].astype(float).to_numpy()
        train, test = values[:-holdout], values[-holdout:]
        model = fit(train, history.index[:-holdout])
        predicted = forecast(model, train, history.index[:-holdout], holdout)
        errors = np.abs(predicted - test)
        naive = np.abs(np.full(holdout, train[-1]) - test)
        scaled = [(test[h] - predicted[h]) / (horizon_scale(h + 1, holdout) * level_scale(predicted[h], target))
                  for h in range(holdout)]
        for origin in origins[1:]:
            past = values[:origin]
            m = fit(past, history.index[:origin])
            ahead = forecast(m, past, history.index[:origin], holdout)
            actual = values[origin:origin + holdout]
            scaled += [(actual[h] - ahead[h]) / (horizon_scale(h + 1, holdout) * level_scale(ahead[h], target))
                       for h in range(holdout)]
        final = fit(values, history.index)
        q10, q90 = conformal_quantiles(scaled)
        result.targets[target] = TargetModel(final, float(errors.mean()), float(naive.mean()), q10, q90,
                                             len(scaled))
    return result


@dataclass
class ForecastPoint:
    date: date
    volume: Decimal
    volume_low: Decimal
    volume_high: Decimal
    avg_price: Decimal
    avg_price_low: Decimal
    avg_price_high: Decimal


@dataclass
class MarketForecast:
    asset_type: str
    points: list[ForecastPoint]
    sentiment: str
    rules: list[FiredRule]
    model: TypeModel | None  # None: insufficient history, the forecast is the recent mean
    market_source: str
    history_days: int = 0
    insufficient_history: bool = False
    interval_method: str = ""


def _d(value: float, places: str) -> Decimal:
    return Decimal(str(max(0.0, value))).quantize(Decimal(places))


class MarketAgent:
    """Holds the trained models, forecasts on request and derives sentiment by rules."""

    def __init__(self, pool: RulePool, market: MarketData) -> None:
        self.pool = pool
        self.market = market
        self.models: dict[str, TypeModel] = {}
        self._trained_generation = -1

    def train(self) -> list[TypeModel]:
        """Train every asset type with enough history (CPU work: call from a thread)."""
        generation = self.market.generation
        trained = []
        for asset_type in self.market.asset_types():
            try:
                model = validate_and_fit(asset_type, self.market.history(asset_type))
            except FailedPrecondition as exc:
                log.warning("market model not trained: %s", exc)
                continue
            self.models[asset_type] = model
            trained.append(model)
        self._trained_generation = generation
        log.info("market models trained: %s", ", ".join(m.version for m in trained) or "none")
        return trained

    async def forecast(self, asset_type: str, days: int = 7) -> MarketForecast:
        if not 1 <= days <= MAX_DAYS:
            raise InvalidArgument(f"days must be 1..{MAX_DAYS}", field="days")
        kb = self.pool.kb
        assert kb is not None
        history = self.market.history(asset_type)
        if history.empty:
            raise FailedPrecondition(f"no market model for {asset_type} yet (no history at all)")
        model = self.models.get(asset_type)
        (basis,) = await self.pool.evaluate((f"(history-basis {kb.level('history', len(history))})",))
        if model is None or basis.name == "insufficient-history":
            return await self._insufficient(asset_type, history, days, basis.name, basis.value)
        predictions = {}
        for target in TARGETS:
            values = history[target].astype(float).to_numpy()
            predictions[target] = forecast(model.targets[target].model, values, history.index, days)
        points = []
        start = history.index[-1].date()
        ts, tp = model.targets["sales"], model.targets["avg_price"]
        for h in range(days):
            v, p = predictions["sales"][h], predictions["avg_price"][h]
            v_lo, v_hi = interval(v, h + 1, ts.q10, ts.q90, "sales")
            p_lo, p_hi = interval(p, h + 1, tp.q10, tp.q90, "avg_price")
            points.append(ForecastPoint(start + timedelta(days=h + 1), _d(v, "0.01"), _d(v_lo, "0.01"),
                                        _d(v_hi, "0.01"), _d(p, "0.000001"), _d(p_lo, "0.000001"),
                                        _d(p_hi, "0.000001")))
        method = (f"80% interval from the 10th/90th percentiles of {ts.errors} back-tested errors "
                  f"({ORIGINS} origins), scaled by sqrt(1 + (h-1)/{HOLDOUT_DAYS})")
        history_rule = FiredRule(basis.name, MODULE, str(basis.value), "",
                                 f"{len(history)} days of history: a validated model; {method}")
        sentiment, rules = await self.sentiment(asset_type, predictions["sales"])
        return MarketForecast(asset_type, points, sentiment, [history_rule, *rules], model, self.market.source,
                              len(history), False, method)

    async def _insufficient(self, asset_type: str, history: pd.DataFrame, days: int, rule: str,
                            value: float | int | str) -> MarketForecast:
        """Too few days for a model: the recent mean with a wide interval, said so by the rule."""
        half = float(factor(value))
        recent = history.iloc[-7:]
        v = float(recent["sales"].astype(float).mean())
        priced = recent["avg_price"].astype(float)
        p = float(priced[recent["sales"] > 0].mean()) if (recent["sales"] > 0).any() else float(priced.mean())
        p = 0.0 if math.isnan(p) else p
        start = history.index[-1].date()
        points = []
        for h in range(days):
            s = horizon_scale(h + 1)
            hv = max(half * v * s, MIN_HALF["sales"] * s)
            hp = max(half * p * s, 1e-6)
            points.append(ForecastPoint(start + timedelta(days=h + 1), _d(v, "0.01"), _d(v - hv, "0.01"),
                                        _d(v + hv, "0.01"), _d(p, "0.000001"), _d(p - hp, "0.000001"),
                                        _d(p + hp, "0.000001")))
        kb = self.pool.kb
        assert kb is not None
        need = int(next(b for b, name in kb.bounds["history"] if name == "sufficient"))
        method = f"insufficient history: +/-{half:.0%} of the recent mean, widening with the horizon"
        rules = [FiredRule(rule, MODULE, str(value), "",
                           f"insufficient history: {len(history)} days of {asset_type} data, a model needs {need}; "
                           f"the forecast is the last {len(recent)} days' mean, the interval +/-{half:.0%}")]
        sentiment, signals = await self.sentiment(asset_type, np.full(days, v))
        return MarketForecast(asset_type, points, sentiment, rules + signals, None, self.market.source,
                              len(history), True, method)

    async def sentiment(self, asset_type: str, volume_forecast: np.ndarray) -> tuple[str, list[FiredRule]]:
        """Bullish / neutral / bearish from the rules over three indicators."""
        kb = self.pool.kb
        assert kb is not None
        ind = self.market.indicators(asset_type)
        last7 = float(self.market.history(asset_type)["sales"].astype(float).to_numpy()[-7:].mean())
        ahead = float(volume_forecast[:7].mean()) if len(volume_forecast) else last7
        outlook = Decimal(str(round((ahead / last7 - 1) * 100, 2))) if last7 > 0 else Decimal(0)
        signals = await self.pool.evaluate((
            f"(volume-signal {kb.level('change', ind.volume_change_pct)})",
            f"(price-signal {kb.level('change', ind.price_trend_pct)})",
            f"(outlook-signal {kb.level('change', outlook)})",
        ))
        total = sum(int(factor(s.value)) for s in signals)
        (label,) = await self.pool.evaluate((f"(sentiment-label {total})",))
        reasons = [f"7-day sales {ind.volume_change_pct}% vs the week before",
                   f"7-day average price {ind.price_trend_pct}% vs the week before",
                   f"forecast next 7 days {outlook}% vs the last 7"]
        rules = [FiredRule(s.name, MODULE, str(s.value), f"{int(factor(s.value)):+d}", r)
                 for s, r in zip(signals, reasons, strict=True)]
        rules.append(FiredRule(label.name, MODULE, str(label.value), "", f"signals sum to {total:+d}"))
        return str(label.value), rules
