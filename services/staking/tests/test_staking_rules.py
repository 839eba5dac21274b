"""The staking rules with exact Decimals and fixed times (no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from ipheron_libs.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from ipheron_libs.wire import money_str
from staking_service import domain
from staking_service.domain import StakeStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def _stake(amount: str = "1000", days: int = 365) -> domain.Stake:
    q = domain.quote(D(amount), days, T0)
    return domain.new_stake("s1", "alice", "asset-1", q)


def test_full_term_reward_is_exact_simple_interest() -> None:
    q = domain.quote(D("1000"), 365, T0)
    assert q.apr == D("10.50")  # 9 base + 1.5 long lock + 0.25 size, capped at 10.50
    assert q.expected_rewards == D("105")
    assert q.end_time == T0 + timedelta(days=365)


def test_reward_accrues_linearly_per_microsecond_and_rounds_down() -> None:
    amount, apr = D("0.01"), D("3")
    end = T0 + timedelta(days=30)
    one_us = domain.accrued_rewards(amount, apr, T0, end, T0 + timedelta(microseconds=1))
    # 0.01 * 3/100 / (365 * 86400 * 1e6) = 9.512937595129375...e-18 -> rounded down to 18 places
    assert one_us == D("0.000000000000000009")
    half = domain.accrued_rewards(D("1000"), D("10"), T0, T0 + timedelta(days=365), T0 + timedelta(days=182, hours=12))
    assert half == D("50")


def test_reward_stops_accruing_at_end_time() -> None:
    end = T0 + timedelta(days=30)
    at_end = domain.accrued_rewards(D("365"), D("3"), T0, end, end)
    later = domain.accrued_rewards(D("365"), D("3"), T0, end, end + timedelta(days=100))
    assert at_end == later == D("0.9")  # 365 * 3 % * 30/365
    assert domain.accrued_rewards(D("365"), D("3"), T0, end, T0 - timedelta(days=1)) == 0


def test_apr_components_explain_tier_bonuses_and_cap() -> None:
    apr, parts = domain.apr_for(D("50000"), 365)
    assert apr == domain.APR_CAP
    rules = {p.rule: p.rate for p in parts}
    assert rules == {"base_tier": D("9.00"), "long_lock_bonus": D("1.50"), "size_bonus": D("0.50"), "cap": D("-0.50")}
    assert sum(rules.values()) == apr
    apr30, parts30 = domain.apr_for(D("10"), 30)
    assert apr30 == D("3.00") and [p.rule for p in parts30] == ["base_tier"]
    apr180, _ = domain.apr_for(D("1000"), 180)
    assert apr180 == D("7.75")


def test_many_small_claims_sum_exactly_to_one_claim_at_maturity() -> None:
    stake = _stake("1234.567890123456789", 90)
    total_claimed = D(0)
    now = T0
    for _ in range(97):  # irregular steps, some past the end
        now += timedelta(hours=23, minutes=7, seconds=13, microseconds=17)
        r = domain.claim(stake, "alice", now)
        stake = r.stake
        total_claimed += r.claimed
    single = domain.accrued_rewards(stake.amount, stake.apr, stake.start_time, stake.end_time, stake.end_time)
    assert total_claimed == stake.rewards_claimed == single
    assert stake.status is StakeStatus.MATURED


def test_early_unstake_returns_principal_less_penalty_and_forfeits_unclaimed() -> None:
    stake = _stake("1000", 90)  # APR 5.25
    r = domain.unstake(stake, "alice", T0 + timedelta(days=73))
    assert r.early
    assert r.penalty == D("100")
    assert r.principal_returned == D("900") == r.payout
    assert r.rewards_paid == 0
    assert r.rewards_forfeited == D("1000") * D("5.25") / 100 * 73 / 365
    assert r.stake.status is StakeStatus.CLOSED and r.stake.payout == D("900")


def test_matured_unstake_pays_principal_and_unclaimed_rewards() -> None:
    stake = _stake("1000", 30)  # APR 3.25 (size bonus)
    claimed = domain.claim(stake, "alice", T0 + timedelta(days=10)).stake
    r = domain.unstake(claimed, "alice", T0 + timedelta(days=45))
    assert not r.early and r.penalty == 0 and r.matured_now
    full = D("1000") * D("3.25") / 100 * 30 / 365
    assert claimed.rewards_claimed + r.rewards_paid == domain.quantize(full)
    assert r.payout == D("1000") + r.rewards_paid


def test_only_the_owner_may_claim_or_unstake() -> None:
    stake = _stake()
    with pytest.raises(PermissionDenied):
        domain.claim(stake, "mallory", T0 + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        domain.unstake(stake, "mallory", T0 + timedelta(days=1))


def test_closed_stake_cannot_be_claimed_or_unstaked_again() -> None:
    closed = domain.unstake(_stake(), "alice", T0 + timedelta(days=1)).stake
    with pytest.raises(FailedPrecondition):
        domain.claim(closed, "alice", T0 + timedelta(days=2))
    with pytest.raises(FailedPrecondition):
        domain.unstake(closed, "alice", T0 + timedelta(days=2))


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("-5", "greater than 0"),
        ("0", "greater than 0"),
        ("abc", "decimal string"),
        ("1e5", "decimal string"),
        ("", "required"),
        ("1.0000000000000000001", "18 decimal places"),
        ("0.001", "at least"),
        ("1000000.01", "at most"),
        ("NaN", "decimal string"),
        ("1,5", "decimal string"),
    ],
)
def test_bad_amounts_are_invalid_arguments_naming_the_field(raw: str, reason: str) -> None:
    with pytest.raises(InvalidArgument) as exc:
        domain.parse_amount(raw)
    assert exc.value.field == "amount"
    assert reason in exc.value.message


def test_unknown_duration_is_rejected_with_the_allowed_set() -> None:
    with pytest.raises(InvalidArgument) as exc:
        domain.quote(D("10"), 45, T0)
    assert exc.value.field == "duration_days"
    assert "30, 90, 180, 365" in exc.value.message


def test_fingerprint_treats_equal_decimals_as_the_same_request() -> None:
    a = domain.request_fingerprint("open", asset_id="x", amount=D("10.50"), duration_days=30)
    b = domain.request_fingerprint("open", asset_id="x", amount=D("10.5"), duration_days=30)
    c = domain.request_fingerprint("open", asset_id="x", amount=D("10.51"), duration_days=30)
    assert a == b != c


def test_stake_json_round_trip_is_lossless() -> None:
    stake = domain.claim(_stake("77.000000000000000001", 180), "alice", T0 + timedelta(days=3)).stake
    assert domain.stake_from_json(domain.stake_to_json(stake)) == stake


def test_an_unstake_past_the_end_decides_matured_then_closed_and_its_answer_reads_back() -> None:
    stake = _stake("365", 30)
    change = domain.unstake_change(stake, "alice", T0 + timedelta(days=31))
    assert [e.type for e in change.events] == ["stake.matured", "stake.closed"]
    assert change.stake.status is StakeStatus.CLOSED
    closed = change.events[1].payload
    assert closed["early"] is False and closed["payout"] == money_str(change.stake.payout or D(0))
    out = domain.unstake_outcome(change.answer, replayed=False)
    assert out.view.stake == change.stake and out.payout == change.stake.payout and not out.early


def test_a_claim_of_nothing_records_no_event_and_a_refused_claim_decides_nothing() -> None:
    stake = _stake()
    nothing = domain.claim_change(stake, "alice", T0)
    assert nothing.events == () and domain.claim_outcome(nothing.answer, replayed=True).claimed == 0
    with pytest.raises(PermissionDenied):
        domain.claim_change(stake, "mallory", T0 + timedelta(days=1))


def test_an_idempotency_key_replays_only_the_same_request() -> None:
    from ipheron_libs.errors import Conflict

    key = domain.RequestKey("alice", "k", "open", domain.request_fingerprint("open", amount=D("1")))
    domain.check_replay(key, "open", key.fingerprint)
    with pytest.raises(Conflict):
        domain.check_replay(key, "open", domain.request_fingerprint("open", amount=D("2")))
    with pytest.raises(Conflict):
        domain.check_replay(key, "claim", key.fingerprint)
