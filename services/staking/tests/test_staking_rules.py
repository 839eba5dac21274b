"""The staking rules with exact integers and fixed times (no database, no chain): the APR, and
the StakingVault's wei arithmetic by a hand-computed table, so previews equal what the vault pays."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_ADDRESS, DEV_QUOTE_SIGNER_KEY
from ipheron_libs.errors import Conflict, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from ipheron_libs.wire import from_wei
from staking_service import domain
from staking_service.domain import ActionKind, StakeStatus
from staking_service.quotes import QuoteSigner

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal
ETH = 10**18
DAY = 86_400
YEAR = 365 * DAY


@pytest.mark.parametrize(
    ("amount_wei", "apr_bps", "duration", "reservation"),
    [
        (ETH, 1050, YEAR, 105 * ETH // 1000),  # a year at 10.5 %: exactly 0.105 ETH
        (10**6 * ETH, 1050, YEAR, 105_000 * ETH),  # 10^6 ETH
        (ETH, 300, 30 * DAY, 2_465_753_424_657_535),  # 1 ETH × 3 % × 30/365, rounded up from ...534.2
        (1, 300, 30 * DAY, 1),  # 1 wei: never rounded to zero forever
        (ETH, 1000, 1, 3_170_979_199),  # one second: 1e17 / 31,536,000 rounded up
        (ETH, 1000, DAY, 273_972_602_739_727),  # one day: 1e17 / 365 rounded up
        (ETH, 1000, 366 * DAY, 100_273_972_602_739_727),  # across a leap day: still 365-day years
    ],
)
def test_reservation_is_the_vaults_rule_rounded_up(amount_wei: int, apr_bps: int, duration: int,
                                                   reservation: int) -> None:
    assert domain.reservation_wei(amount_wei, apr_bps, duration) == reservation


def test_accrual_is_linear_per_second_rounded_down_and_stops_at_the_reservation() -> None:
    reward, start, end = 2_465_753_424_657_535, 1_000, 1_000 + 30 * DAY
    assert domain.accrued_wei(reward, start, end, start) == 0
    assert domain.accrued_wei(reward, start, end, start - 5) == 0
    assert domain.accrued_wei(reward, start, end, start + 1) == reward // (30 * DAY)
    assert domain.accrued_wei(reward, start, end, start + DAY) == reward * DAY // (30 * DAY)
    assert domain.accrued_wei(reward, start, end, end) == reward
    assert domain.accrued_wei(reward, start, end, end + 10 * DAY) == reward
    assert domain.accrued_wei(1, start, end, end - 1) == 0 and domain.accrued_wei(1, start, end, end) == 1


def _active(amount_wei: int = 10 * ETH, apr_bps: int = 500, days: int = 90, claimed: int = 0) -> domain.Stake:
    start = T0
    seconds = days * DAY
    return domain.Stake(
        id="00000000-0000-0000-0000-000000000001", user_id="alice", asset_id="asset-1", wallet="0x" + "ab" * 20,
        status=StakeStatus.ACTIVE, amount_wei=amount_wei, apr_bps=apr_bps, duration_days=days,
        duration_seconds=seconds, token_id=7, start_time=start, end_time=start + timedelta(seconds=seconds),
        reward_wei=domain.reservation_wei(amount_wei, apr_bps, seconds), created_at=start, claimed_wei=claimed,
        vault_stake_id=1)


def test_claim_and_unstake_previews_follow_the_vaults_rule() -> None:
    stake = _active()
    at = domain.unix(T0) + 10 * DAY
    accrued = domain.accrued_wei(stake.reward_wei, domain.unix(T0), domain.unix(stake.end_time), at)
    assert domain.claim_payout_wei(stake, at) == accrued
    claimed = replace(stake, claimed_wei=accrued)
    assert domain.claim_payout_wei(claimed, at) == 0
    # Early: principal + accrued − claimed − floor(principal × 10 %).
    payout, penalty, early = domain.unstake_payout_wei(claimed, at + DAY, 1000)
    assert early and penalty == ETH
    assert payout == 10 * ETH + domain.accrued_wei(stake.reward_wei, domain.unix(T0), domain.unix(stake.end_time),
                                                    at + DAY) - accrued - ETH
    # At the end: principal + the whole reservation − claimed, no penalty.
    payout, penalty, early = domain.unstake_payout_wei(claimed, domain.unix(stake.end_time), 1000)
    assert (payout, penalty, early) == (10 * ETH + stake.reward_wei - accrued, 0, False)
    assert domain.penalty_wei(19, 1000) == 1  # rounded down


def test_the_view_derives_eth_figures_from_wei_and_a_stake_past_its_end_reads_matured() -> None:
    stake = _active(amount_wei=3 * ETH // 2)
    v = domain.view(stake, T0 + timedelta(days=45))
    assert v.status is StakeStatus.ACTIVE and v.claimable_wei == stake.reward_wei // 2
    assert v.claimable_rewards == from_wei(stake.reward_wei // 2) and stake.amount == D("1.5")
    later = domain.view(stake, stake.end_time)
    assert later.status is StakeStatus.MATURED and later.claimable_wei == stake.reward_wei
    pending = domain.view(replace(stake, status=StakeStatus.PENDING), T0 + timedelta(days=1))
    assert pending.claimable_wei == 0 and pending.status is StakeStatus.PENDING


def test_apr_is_a_whole_number_of_basis_points_and_the_quote_reserves_the_vaults_reward() -> None:
    q = domain.quote(D("1000"), 90, T0)
    assert q.apr == D("5.25") and q.apr_bps == 525 and q.duration_seconds == 90 * DAY
    assert q.amount_wei == 1000 * ETH and q.reservation_wei == domain.reservation_wei(1000 * ETH, 525, 90 * DAY)
    assert q.expected_rewards == from_wei(q.reservation_wei)
    with pytest.raises(ValueError):
        domain.apr_bps_of(D("5.255"))


def test_apr_components_explain_tier_bonuses_and_cap() -> None:
    apr, parts = domain.apr_for(D("50000"), 365)
    assert apr == domain.APR_CAP
    rules = {p.rule: p.rate for p in parts}
    assert rules == {"base_tier": D("9.00"), "long_lock_bonus": D("1.50"), "size_bonus": D("0.50"), "cap": D("-0.50")}
    assert sum(rules.values()) == apr
    apr30, parts30 = domain.apr_for(D("10"), 30)
    assert apr30 == D("3.00") and [p.rule for p in parts30] == ["base_tier"]


def test_a_signed_quote_recovers_to_the_quote_key_and_its_hash_is_the_vaults() -> None:
    from chain_service import vault

    signer = QuoteSigner(DEV_QUOTE_SIGNER_KEY)
    info = domain.VaultInfo(address="0x6D411e0A54382eD43F02410Ce1c7a7c122afA6E1", chain_id=131277322940537,
                            domain_name="IPheronStakingVault", domain_version="1",
                            quote_signer=DEV_QUOTE_SIGNER_ADDRESS, penalty_bps=1000, pool_free_wei=0,
                            pool_reserved_wei=0)
    q = domain.quote(D("2.5"), 180, T0)
    staker = "0x" + "ab" * 20
    nonce = domain.nonce_of("9b2f8a44-1d6e-4c67-9a0c-2f7d1c5e8b31")
    sq = signer.sign(info, staker=staker, token_id=7, q=q, expires_at=T0 + timedelta(minutes=10), nonce=nonce)
    assert signer.address == DEV_QUOTE_SIGNER_ADDRESS
    assert Account.recover_message(encode_typed_data(full_message=sq.typed_data),
                                   signature=sq.signature) == DEV_QUOTE_SIGNER_ADDRESS
    on_chain = vault.parse_quote(json.dumps(sq.message))
    assert "0x" + vault.quote_hash(on_chain, info.chain_id, info.address).hex() == sq.quote_hash
    assert sq.message["expiry"] == str(domain.unix(T0) + 600) and sq.message["nonce"] == str(nonce)
    # Stored and read back (JSONB reorders keys), the documents come back in their canonical order.
    scrambled = json.loads(json.dumps(sq.to_json(), sort_keys=True))
    assert domain.SignedQuote.from_json(scrambled) == sq


def test_only_the_owner_acts_on_a_stake_from_its_own_wallet() -> None:
    stake = _active()
    assert domain.check_actor(stake, stake.id, "alice", stake.wallet) is stake
    with pytest.raises(NotFound):
        domain.check_actor(stake, stake.id, "bob", stake.wallet)
    with pytest.raises(PermissionDenied):
        domain.check_actor(stake, stake.id, "alice", "0x" + "cd" * 20)
    direct = replace(stake, user_id="", origin=domain.ORIGIN_CHAIN)
    assert domain.check_actor(direct, stake.id, "carol", stake.wallet) is direct  # the wallet's user owns it
    with pytest.raises(PermissionDenied):
        domain.check_viewer(direct, "carol", "0x" + "cd" * 20)


@pytest.mark.parametrize(("status", "words"), [(StakeStatus.CLOSED, "closed"), (StakeStatus.PENDING, "not open"),
                                                (StakeStatus.FAILED, "failed")])
def test_claim_and_unstake_need_an_open_stake_on_the_vault(status: StakeStatus, words: str) -> None:
    stake = replace(_active(), status=status, vault_stake_id=None if status is StakeStatus.PENDING else 1)
    with pytest.raises(FailedPrecondition) as exc:
        domain.check_actionable(stake, ActionKind.CLAIM)
    assert words in exc.value.message


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


def test_an_idempotency_key_replays_only_the_same_request() -> None:
    a = domain.request_fingerprint("open", asset_id="x", amount=D("10.50"), duration_days=30)
    b = domain.request_fingerprint("open", asset_id="x", amount=D("10.5"), duration_days=30)
    c = domain.request_fingerprint("open", asset_id="x", amount=D("10.51"), duration_days=30)
    assert a == b != c
    key = domain.RequestKey("alice", "k", "open", a)
    domain.check_replay(key, "open", b)
    with pytest.raises(Conflict):
        domain.check_replay(key, "open", c)
    with pytest.raises(InvalidArgument):
        domain.check_wallet("0x123")


def test_the_quote_key_defaults_to_the_dev_key_outside_production_is_refused_there_and_never_shown() -> None:
    from ipheron_libs.settings import InsecureSettingError
    from pydantic import ValidationError
    from staking_service.config import Settings

    assert Settings(env="test").effective_quote_key() == DEV_QUOTE_SIGNER_KEY
    real = "0x" + "5a" * 32
    prod = {"env": "production", "database_url": "postgresql://db/x", "redis_url": "redis://r",
            "tls_dir": "/etc/ipheron/tls"}
    for key in (None, DEV_QUOTE_SIGNER_KEY, DEV_QUOTE_SIGNER_KEY.upper().replace("0X", "0x")):
        with pytest.raises((InsecureSettingError, ValidationError)) as exc:
            Settings(**prod, quote_signer_key=key)
        assert "STAKING_QUOTE_SIGNER_KEY" in str(exc.value)
    settings = Settings(**prod, quote_signer_key=real)
    assert settings.effective_quote_key() == real
    assert "5a5a" not in repr(settings) and "5a5a" not in str(settings.model_dump())
