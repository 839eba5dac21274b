"""Comparables selection, the weighted statistic and the asking-price position: pure and deterministic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ai_agents_service.comparables import (
    LOOKBACK_DAYS,
    SaleRecord,
    SalesArrays,
    Subject,
    ordinal,
    percentile_of,
    select,
    weighted_quantile,
)

AT = datetime(2026, 10, 31, 12, tzinfo=UTC)
SUBJECT = Subject(region="europe", utility_count=1, co_creators=1, creator_reputation=60)


def _sale(asset_id: str, days_ago: float, *, price: str = "1", region: str = "europe", utility: int = 1,
          co: int = 1, rep: int = 60) -> SaleRecord:
    return SaleRecord(asset_id, "music", Decimal(price), AT - timedelta(days=days_ago), region, utility, co, rep)


def test_a_similar_recent_sale_outweighs_a_dissimilar_or_old_one() -> None:
    sales = SalesArrays([
        _sale("twin-recent", 2), _sale("twin-old", 90), _sale("far-recent", 2, region="africa", utility=3, rep=5),
    ])
    chosen = select(SUBJECT, sales, AT)
    assert [c.sale.asset_id for c in chosen] == ["twin-recent", "far-recent", "twin-old"]
    twin, far, old = chosen
    assert twin.similarity == pytest.approx(1.0) and old.similarity == pytest.approx(1.0)
    # 0.6 (other region) x 0.7 (two features apart) x 0.56 (55 reputation points apart)
    assert far.similarity == pytest.approx(0.6 * 0.7 * (1 - 0.8 * 55 / 100))
    assert old.weight == pytest.approx(0.5 ** 3)  # three half-lives: an eighth of the say


def test_only_sales_before_the_pricing_moment_and_within_the_lookback_count() -> None:
    sales = SalesArrays([_sale("future", -1), _sale("ancient", LOOKBACK_DAYS + 1), _sale("ok", 10)])
    assert [c.sale.asset_id for c in select(SUBJECT, sales, AT)] == ["ok"]
    assert select(SUBJECT, SalesArrays([]), AT) == []


def test_the_heaviest_comparables_are_kept_up_to_the_limit() -> None:
    sales = SalesArrays([_sale(f"a{i}", i) for i in range(1, 41)])  # a sale at the very moment is not before it
    chosen = select(SUBJECT, sales, AT, limit=25)
    assert [c.sale.asset_id for c in chosen] == [f"a{i}" for i in range(1, 26)]


def test_weighted_median_and_quantiles_are_values_of_the_sample() -> None:
    assert weighted_quantile([1, 2, 3], [1, 1, 1], 0.5) == 2
    # one heavy sale decides the median; an outlier with little weight does not move it
    assert weighted_quantile([1.0, 2.0, 100.0], [1, 5, 1], 0.5) == 2.0
    assert weighted_quantile([1.0, 2.0, 3.0, 4.0], [1, 1, 1, 1], 0.25) == 1.0
    with pytest.raises(ValueError):
        weighted_quantile([], [], 0.5)


def test_asking_price_position_is_a_mid_rank_percentile() -> None:
    prices = [Decimal(p) for p in ("1.5", "1.8", "2", "2", "2.2", "2.5")]
    assert percentile_of(Decimal("2"), prices) == Decimal("50")  # 2 below, 2 equal: (2 + 1) / 6
    assert percentile_of(Decimal("1"), prices) == Decimal("0")
    assert percentile_of(Decimal("3"), prices) == Decimal("100")
    assert [ordinal(n) for n in (1, 2, 3, 11, 12, 22, 45)] == ["1st", "2nd", "3rd", "11th", "12th", "22nd", "45th"]
