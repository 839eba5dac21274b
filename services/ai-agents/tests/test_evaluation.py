"""The evaluation harness (`make eval-agents`) on a small market: every area is scored and the
report renders; the full run with its targets is the make target's (bench/AGENTS.md)."""

from __future__ import annotations

from ai_agents_service.engine import RulePool
from ai_agents_service.evaluation import EvalConfig, evaluate, flag_store
from ipheron_libs.db import run_db
from ipheron_libs.testing import drop_database, fresh_database


async def test_the_harness_scores_every_agent_on_a_small_market(pool: RulePool, report: dict[str, str],
                                                                 pg_admin_url: str) -> None:
    scratch = fresh_database(pg_admin_url, "ai_agents_eval")
    try:
        with flag_store(scratch) as repo:
            result = await evaluate(EvalConfig.small(), pool, repo)
            stored = await run_db(repo.all_sale_flags)
    finally:
        drop_database(pg_admin_url, "ai_agents_eval")
    areas = {m.area for m in result.metrics}
    assert areas == {"pricing", "forecast", "risk", "collaboration"}
    for metric in result.metrics:
        assert metric.value >= 0, metric
    # Even on a small market the comparables beat the type median and the planted rings are caught
    # without flagging honest sales; the tighter targets are checked on the full market.
    assert result.value("MdAPE, comparables agent") < result.value("MdAPE, baseline type median")
    assert result.value("recall of planted rings (any sale flagged)") == 1.0
    assert result.value("false-flag rate, honest sales (stored)") < 0.05
    # The stored flags, not a recomputation, are what the risk rows score: the earlier sales
    # of a closed ring are flagged later, so the stored recall is above the purchase-time one.
    assert any(f.retroactive and f.rule == "wash-cycle-closed-later" for f in stored)
    assert result.value("recall of wash flags (sales, stored by the end of the test period)") > result.value(
        "recall of wash flags at purchase time (sales)")
    assert result.value("NDCG@10 (relevance = needed skills covered)") > 0.5
    assert 0.5 < result.value("80% interval coverage (volume and price, days 1-7)") <= 1.0
    text = result.markdown("make eval-agents")
    assert "| pricing | MdAPE, comparables agent |" in text and "make eval-agents" in text
    report["small-market pricing MdAPE (agent / type median)"] = (
        f"{result.value('MdAPE, comparables agent'):.3f} / {result.value('MdAPE, baseline type median'):.3f}")
