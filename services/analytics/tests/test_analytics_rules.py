"""Analytics rules without a database: inputs, sentiment, insights."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from analytics_service import domain
from analytics_service.domain import MarketFacts, Sentiment
from ipheron_libs.errors import InvalidArgument

D = Decimal
TODAY = date(2026, 3, 15)


def test_sentiment_compares_a_day_with_the_average_of_the_week_before() -> None:
    week = [D("10")] * 7
    assert domain.sentiment(D("12"), week) is Sentiment.BULLISH
    assert domain.sentiment(D("11.99"), week) is Sentiment.NEUTRAL
    assert domain.sentiment(D("8"), week) is Sentiment.BEARISH
    assert domain.sentiment(D("5"), [D(0)] * 7) is Sentiment.BULLISH
    assert domain.sentiment(D(0), [D(0)] * 7) is Sentiment.NEUTRAL


def test_day_range_defaults_to_thirty_days_and_checks_its_bounds() -> None:
    assert domain.day_range("", "", TODAY) == (date(2026, 2, 14), TODAY)
    assert domain.day_range("2026-03-01", "2026-03-02", TODAY) == (date(2026, 3, 1), date(2026, 3, 2))
    for args, field in (
        (("2026-13-01", ""), "from_date"),
        (("", "yesterday"), "to_date"),
        (("2026-03-05", "2026-03-01"), "from_date"),
        (("2024-01-01", "2026-01-01"), "from_date"),
    ):
        with pytest.raises(InvalidArgument) as exc:
            domain.day_range(*args, TODAY)
        assert exc.value.field == field


@pytest.mark.parametrize("raw", ["-1", "abc", "1e3", "", None, "1.0000000000000000001"])
def test_malformed_prices_are_rejected(raw: object) -> None:
    with pytest.raises(InvalidArgument) as exc:
        domain.parse_price(raw)
    assert exc.value.field == "price"


def test_price_accepts_money_objects_and_exact_decimals() -> None:
    assert domain.parse_price({"amount": "12.000000000000000001", "currency": "ETH"}) == D("12.000000000000000001")


def test_asset_type_is_normalised_and_checked() -> None:
    assert domain.check_asset_type("") == "all"
    assert domain.check_asset_type("Music") == "music"
    with pytest.raises(InvalidArgument) as exc:
        domain.check_asset_type("art; drop table")
    assert exc.value.field == "asset_type"


def _facts(**overrides: object) -> MarketFacts:
    base = dict(
        scope="all",
        volume_7d=D("150"),
        volume_prev_7d=D("100"),
        sales_7d=3,
        sales_prev_7d=2,
        volume_30d=D("250"),
        top_asset_30d=("a1", D("200")),
        type_volumes_7d={"art": D("120"), "music": D("30")},
        total_staked=D("40"),
        active_stakes=2,
        today_sentiment=Sentiment.BULLISH,
    )
    base.update(overrides)
    return MarketFacts(**base)  # type: ignore[arg-type]


def test_insights_explain_trend_leader_concentration_staking_and_sentiment() -> None:
    found = {i.kind: i for i in domain.insights(_facts())}
    assert set(found) == {"volume_trend", "price_trend", "leading_asset_type", "concentration", "staking", "sentiment"}
    assert found["volume_trend"].title == "Volume up 50 % week over week"
    assert found["volume_trend"].metrics["change_pct"] == "50"
    assert found["price_trend"].severity == "info"  # 50 -> 50 per sale: steady
    assert found["leading_asset_type"].metrics == {"asset_type": "art", "volume_7d": "120", "share_pct": "80"}
    assert found["concentration"].severity == "warning" and found["concentration"].metrics["share_pct"] == "80"
    assert all(i.rule and i.explanation for i in found.values())


def test_falling_volume_is_a_warning_and_an_empty_market_says_so() -> None:
    falling = {i.kind: i for i in domain.insights(_facts(volume_7d=D("50")))}
    assert falling["volume_trend"].severity == "warning"
    assert "down 50 %" in falling["volume_trend"].title
    empty = domain.insights(
        _facts(
            volume_7d=D(0),
            volume_prev_7d=D(0),
            sales_7d=0,
            sales_prev_7d=0,
            volume_30d=D(0),
            top_asset_30d=None,
            active_stakes=0,
        )
    )
    assert [i.kind for i in empty] == ["no_data"]


def _input(sale_id: str, asset_id: str = "a1", price: str = "1.5", creators: tuple[str, ...] = ()) -> domain.SaleInput:
    return domain.SaleInput(sale_id, asset_id, "art", price, "", "", "", None, creators)


def test_a_sales_batch_keeps_each_sale_once_and_splits_creator_shares_equally() -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 3, 15, tzinfo=UTC)
    batch, creators, given = domain.sales_batch(
        [_input("s1", creators=("c1", "c2", "c1")), _input("s1"), _input("s2", "a2")], now
    )
    assert given == 3 and [s.sale_id for s in batch] == ["s1", "s2"]
    assert batch[0].occurred_at == now and batch[0].currency == "ETH" and batch[0].buyer_id is None
    assert creators == {"a1": [("c1", D("33.3333")), ("c2", D("33.3333"))]}
    with pytest.raises(InvalidArgument) as exc:
        domain.sales_batch([_input("s1"), _input("s2", price="-1")], now)
    assert exc.value.field == "sales[1].price"


def test_an_asset_nobody_has_heard_of_is_not_found_and_one_sale_has_no_price_change() -> None:
    from ipheron_libs.errors import NotFound

    nothing = domain.AssetFacts(None, domain.SalesSummary(0, D(0), None, None, 0, None), None, (), 0, D(0), 0, False)
    with pytest.raises(NotFound):
        domain.asset_performance("a1", nothing)
    from datetime import UTC, datetime

    sale = domain.Sale("s1", "a1", "art", D("2"), "ETH", "b1", None, datetime(2026, 3, 1, tzinfo=UTC))
    one = domain.AssetFacts(None, domain.SalesSummary(1, D("2"), D("2"), D("2"), 1, sale.occurred_at),
                            sale, (sale,), 0, D(0), 0, False)
    perf = domain.asset_performance("a1", one)
    assert perf.asset_type == "art" and perf.avg_price == D("2") and perf.price_change_pct is None


def test_history_for_the_whole_market_always_has_an_all_series() -> None:
    series = domain.history_series("all", date(2026, 3, 1), date(2026, 3, 3), {})
    assert list(series) == ["all"] and [p.volume for p in series["all"]] == [0, 0, 0]
