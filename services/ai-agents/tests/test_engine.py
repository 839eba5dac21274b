"""The interpreter pool: checked answers, worker replacement, cache and reload."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from ai_agents_service.engine import RuleNotReduced, RulePool
from ipheron_libs.errors import Unavailable
from ipheron_libs.testing import wait_until_async


async def test_rule_answers_are_checked_values(pool: RulePool) -> None:
    (base, region) = await pool.evaluate(("(base-price patent)", "(region-factor europe)"))
    assert (base.name, base.value) == ("base-patent", 5.0)
    assert (region.name, region.value) == ("region-europe", 1.1)


async def test_grounded_functions_feed_request_data_to_rules(pool: RulePool) -> None:
    (hot,) = await pool.evaluate(("(demand-factor)",), {"volume_level": "high", "trend_level": "rising"})
    (cold,) = await pool.evaluate(("(demand-factor)",), {"volume_level": "low", "trend_level": "falling"})
    assert (hot.name, hot.value) == ("demand-hot", 1.25)
    assert (cold.name, cold.value) == ("demand-cold", 0.82)


async def test_unreduced_expression_is_an_error_never_a_price(pool: RulePool) -> None:
    with pytest.raises(RuleNotReduced, match=r"\(base-price sculpture\) did not reduce"):
        await pool.evaluate(("(base-price sculpture)",))


async def test_missing_grounded_data_is_an_error(pool: RulePool) -> None:
    with pytest.raises(RuleNotReduced, match=r"\(demand-factor\)"):
        await pool.evaluate(("(demand-factor)",), {"volume_level": "high"})


async def test_a_rule_error_leaves_the_worker_usable(pool: RulePool) -> None:
    for _ in range(3):
        with pytest.raises(RuleNotReduced):
            await pool.evaluate(("(utility-factor legendary)",))
    (ok,) = await pool.evaluate(("(utility-factor rich)",))
    assert ok.value == 1.2


async def test_killed_worker_is_replaced_and_the_next_request_succeeds(pool: RulePool) -> None:
    before = set(pool.worker_pids())
    victim = await pool.worker_pid_for_next_call()
    os.kill(victim, signal.SIGABRT)  # how a hyperon index panic (abort) ends a worker
    # Every request after the kill is answered (by the survivor, then the replacement).
    for _ in range(6):
        (answer,) = await pool.evaluate(("(base-price music)",), {"probe": str(_)})
        assert answer.value == 0.2
    # The replacement loads the KB in the background.
    await wait_until_async(lambda: len(pool.worker_pids()) == 2 and victim not in pool.worker_pids(), timeout=10,
                           message="a replacement worker")
    after = set(pool.worker_pids())
    assert victim not in after and len(after) == 2 and after != before
    assert pool.replaced >= 1


async def test_request_in_flight_on_a_dying_worker_is_retried_on_its_replacement() -> None:
    async with RulePool(size=1, call_timeout=20) as one:
        pid = await one.worker_pid_for_next_call()
        # A long batch (interpreted rules, ~1 ms each) keeps the only worker busy while it is killed.
        hot = {"volume_level": "high", "trend_level": "rising"}
        call = asyncio.ensure_future(one.evaluate_many([(("(demand-factor)",), hot | {"n": str(i)})
                                                        for i in range(1000)]))
        await wait_until_async(one.in_flight, timeout=10, message="the batch in flight on the worker")
        os.kill(pid, signal.SIGKILL)
        answers = await call  # rule evaluation is pure: retried once on the new worker
        assert len(answers) == 1000 and answers[0][0].value == 1.25
        assert one.worker_pids() != [pid] and one.replaced == 1


async def test_worker_killed_while_busy_fails_only_without_retry() -> None:
    async with RulePool(size=1, call_timeout=20) as one:
        pid = await one.worker_pid_for_next_call()
        hot = (("trend_level", "rising"), ("volume_level", "high"))
        call = asyncio.ensure_future(one._call("eval_many", [(("(demand-factor)",), (*hot, ("n", str(i))))
                                                             for i in range(1000)], retry=False))
        await wait_until_async(one.in_flight, timeout=10, message="the batch in flight on the worker")
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(Unavailable, match="died"):
            await call
        (answer,) = await one.evaluate(("(base-price art)",))
        assert answer.value == 0.5


async def test_answers_are_cached_until_the_rules_change(kb_copy: Path) -> None:
    async with RulePool(size=1, kb_dir=kb_copy) as one:
        first = await one.evaluate(("(base-price art)",))
        assert await one.evaluate(("(base-price art)",)) is first  # served from the cache
        assert one.cache.hits >= 1
        path = kb_copy / "pricing.metta"
        path.write_text(path.read_text().replace("(rule base-art 0.5)", "(rule base-art 0.75)"))
        assert one.kb_changed()
        assert await one.reload()
        (fresh,) = await one.evaluate(("(base-price art)",))
        assert fresh.value == 0.75 and len(one.worker_pids()) == 1


async def test_broken_edit_is_not_loaded_and_the_running_rules_keep_answering(kb_copy: Path) -> None:
    async with RulePool(size=1, kb_dir=kb_copy) as one:
        version = one.kb.version if one.kb else ""
        path = kb_copy / "pricing.metta"
        path.write_text(path.read_text().replace("(rule base-art 0.5)", "(rule base-art 0.5"))
        assert not await one.reload()
        assert one.kb is not None and one.kb.version == version
        (answer,) = await one.evaluate(("(base-price art)",))
        assert answer.value == 0.5


async def test_watcher_reloads_edited_metta_files(kb_copy: Path) -> None:
    async with RulePool(size=1, kb_dir=kb_copy) as one:
        watcher = asyncio.ensure_future(one.watch(interval=0.1))
        try:
            path = kb_copy / "market.metta"
            path.write_text(path.read_text().replace("(rule volume-rising 1)", "(rule volume-rising 2)"))

            async def reloaded() -> bool:
                (signal_,) = await one.evaluate(("(volume-signal up)",))
                return signal_.value == 2

            assert await wait_until_async(reloaded, timeout=10, message="the edited rule answering")
        finally:
            watcher.cancel()
