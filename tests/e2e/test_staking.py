"""Staking with real funds end to end through the public REST API, every service a real
process, every key a real wallet (`ipheron_libs.wallet.Wallet`).

A wallet holding 0 ETH cannot stake (402 with the amounts, nothing recorded). A funded
wallet takes a quote signed for it, signs the prepared `stake()` and hands it in: the stake is
active once the vault's StakeOpened is recorded, the wallet paid exactly the principal plus
gas and the vault's balance grew by the principal. After the chain's clock moved on, a claim
pays exactly what the vault's rule gives at the claim's block time, and the recorded
claimed_wei is what the vault paid. An early unstake pays principal + accrued − claimed −
penalty to the wei, and the penalty with the unearned reservation returns to the pool. A
hand-in that is not exactly the prepared call, or not the staker's, is a 4xx and moves
nothing. A stake whose reservation exceeds the pool's free ether is refused (409 naming the capacity);
funding the pool reopens it. A stake opened on the vault directly (no POST /stakes) is listed
for its wallet. `make reconcile` then finds no difference, and names a record broken behind
the staking service's back.

Expected amounts are computed here from the vault's documented rules (services/chain/
CONTRACTS.md; reservation = ceil(amount × aprBps × duration / (10,000 × 365 days)),
accrued(t) = floor(reservation × min(t − start, duration) / duration), penalty = floor(
principal × penaltyBps / 10,000)), from the block times the chain reports, never taken from
the answers being checked.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from eth_utils import keccak
from helpers import Session, sign_in
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_devstack import market
from ipheron_devstack.stack import Stack
from ipheron_gateway.prepared import tx_out
from ipheron_libs.db import sqlalchemy_url
from ipheron_libs.testing import wait_until
from ipheron_libs.wallet import Wallet
from sqlalchemy import create_engine, text
from test_marketplace import WEI, chain_stub, is_problem, wait_mined, wei

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
YEAR_S = 365 * 86_400
DEADLINE_S = 90.0


def reservation_wei(amount_wei: int, apr_bps: int, duration_s: int) -> int:
    """What stake() reserves: rounded up."""
    return -(-amount_wei * apr_bps * duration_s // (10_000 * YEAR_S))


def accrued_wei(reward_wei: int, start: int, end: int, at: int) -> int:
    """What the stake has earned at `at` (unix seconds): rounded down, never past the end."""
    duration = end - start
    return reward_wei * min(max(at - start, 0), duration) // duration


def unix(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def tx_hash_of(raw: str) -> str:
    return "0x" + keccak(hexstr=raw).hex()


def vault_figures(api: httpx.Client) -> dict[str, int]:
    v = market.vault(api)
    return {k: int(v[k]) for k in ("pool_free_wei", "pool_reserved_wei", "total_principal_wei", "balance_wei")}


def nudge_clock(api: httpx.Client) -> None:
    """One more block (a 1-wei faucet payment to nobody in particular): the embedded chain's
    clock moves on by at least a second."""
    market.fund(api, Wallet.create().address, "0.000000000000000001")


def hand_in(api: httpx.Client, staker: Session, stake_id: str, tx: dict[str, Any], what: str) -> tuple[
        httpx.Response, str]:
    """Sign with the staker's wallet and hand the raw bytes in; the answer and the tx hash."""
    raw = staker.wallet.sign_transaction(tx)
    path = {"open": "transaction", "claim": "claim/transaction", "unstake": "unstake/transaction"}[what]
    resp = api.post(f"/api/v1/stakes/{stake_id}/{path}", json={"raw_transaction": raw}, headers=staker.headers)
    return resp, tx_hash_of(raw)


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def asset(client: httpx.Client) -> dict[str, Any]:
    """An active, minted asset to stake on (its creator's; stakers are other users)."""
    creator = sign_in(client)
    return market.register(client, creator, market.asset_body([(creator, "100")], price="1"))


# ------------------------------------------------------------------ no funds, no stake


def test_a_wallet_holding_nothing_cannot_stake_402_naming_the_amounts_and_nothing_is_recorded(
        client: httpx.Client, asset: dict[str, Any]) -> None:
    poor = sign_in(client)
    before = vault_figures(client)
    key = f"poor-{uuid.uuid4().hex}"
    for _ in range(2):  # the same key again: still refused, still nothing stored
        body = is_problem(market.start_stake(client, poor, asset["id"], "1", 30, key), 402)
        required, available, shortfall = (int(body[k]) for k in ("required_wei", "available_wei", "shortfall_wei"))
        assert available == 0 and shortfall == required > wei("1"), body  # the principal and the gas
        assert Decimal(body["required"]) * WEI == required and Decimal(body["available"]) == 0, body
        assert Decimal(body["shortfall"]) * WEI == shortfall, body
    assert market.list_stakes(client, poor)["total"] == 0
    after = vault_figures(client)
    assert after["total_principal_wei"] == before["total_principal_wei"], (before, after)


# ------------------------------------------------------------------ a funded stake, its claim, its early unstake


@dataclass
class Opened:
    staker: Session
    quote: dict[str, Any]  # GET /staking/quote signed for the staker
    created: httpx.Response  # POST /stakes
    replay: httpx.Response  # the same key again
    handed_in: httpx.Response
    stake: dict[str, Any]  # active
    tx: dict[str, Any]  # the stake() transaction as mined
    wallet_before: int
    wallet_after: int
    vault_before: dict[str, int]
    vault_after: dict[str, int]


AMOUNT = "2.500000000000000007"  # a principal whose reservation is not a whole wei
DAYS = 30


@pytest.fixture(scope="module")
def opened(client: httpx.Client, asset: dict[str, Any]) -> Opened:
    staker = sign_in(client)
    market.fund(client, staker.address, "10")
    quote = market.staking_quote(client, staker, asset["id"], AMOUNT, DAYS)
    vault_before = vault_figures(client)
    wallet_before = market.native_wei(client, staker.address)
    key = f"stake-{uuid.uuid4().hex}"
    created = market.start_stake(client, staker, asset["id"], AMOUNT, DAYS, key)
    assert created.status_code == 201, created.text
    replay = market.start_stake(client, staker, asset["id"], AMOUNT, DAYS, key)
    pending = market.stake_of(created.json())
    handed_in, tx_hash = hand_in(client, staker, pending["id"], market.prepared_tx(created.json()), "open")
    assert handed_in.status_code == 202, handed_in.text
    stake = market.wait_stake(client, staker, pending["id"], lambda s: s["status"] == "active", "its opening",
                              timeout=DEADLINE_S)
    tx = wait_mined(client, tx_hash)
    return Opened(staker, quote, created, replay, handed_in, stake, tx, wallet_before,
                  market.native_wei(client, staker.address), vault_before, vault_figures(client))


def test_a_signed_in_quote_is_signed_for_the_wallet_with_the_vaults_reservation_rule(
        client: httpx.Client, asset: dict[str, Any], opened: Opened) -> None:
    q = opened.quote
    signed = q["signed_quote"]
    vault = market.vault(client)
    apr_bps = int(Decimal(q["apr"]) * 100)
    assert Decimal(q["apr"]) * 100 == apr_bps > 0, q
    assert int(signed["amount_wei"]) == wei(AMOUNT) and signed["apr_bps"] == apr_bps
    assert signed["duration_seconds"] == DAYS * 86_400 and str(signed["token_id"]) == str(asset["token_id"])
    assert int(signed["reservation_wei"]) == reservation_wei(wei(AMOUNT), apr_bps, DAYS * 86_400)
    assert wei(AMOUNT) * apr_bps * DAYS * 86_400 % (10_000 * YEAR_S) != 0, "the reservation must round here"
    assert signed["quote"]["staker"].lower() == opened.staker.address.lower()
    assert signed["quote_signer"].lower() == vault["quote_signer"].lower()
    assert signed["vault_address"].lower() == vault["address"].lower()
    assert signed["signature"].startswith("0x") and signed["quote_hash"].startswith("0x")
    # Anonymous: the APR and its rules, nothing signed.
    anonymous = market.staking_quote(client, None, asset["id"], AMOUNT, DAYS)
    assert anonymous["apr"] == q["apr"] and not anonymous.get("signed_quote"), anonymous


def test_a_funded_stake_moves_exactly_the_principal_plus_gas_from_the_wallet_into_the_vault(
        client: httpx.Client, asset: dict[str, Any], opened: Opened) -> None:
    created = opened.created.json()
    pending, tx = market.stake_of(created), market.prepared_tx(created)
    vault = market.vault(client)
    assert pending["status"] == "pending" and pending["expires_at"], created
    assert tx["from"].lower() == opened.staker.address.lower() and tx["to"].lower() == vault["address"].lower()
    assert tx["value"] == wei(AMOUNT)
    # The same key replays the same stake, storing nothing new.
    assert opened.replay.status_code == 200, opened.replay.text
    assert market.stake_of(opened.replay.json())["id"] == pending["id"]
    assert market.stake_of(opened.handed_in.json())["status"] in ("pending", "active"), opened.handed_in.text
    # Active with the vault's figures.
    s = opened.stake
    apr_bps = int(Decimal(opened.quote["apr"]) * 100)
    reward = reservation_wei(wei(AMOUNT), apr_bps, DAYS * 86_400)
    assert s["id"] == pending["id"] and s["vault_stake_id"] > 0 and s["origin"] == "api", s
    assert s["wallet"].lower() == opened.staker.address.lower() and str(s["token_id"]) == str(asset["token_id"])
    assert int(s["amount_wei"]) == wei(AMOUNT) and s["apr_bps"] == apr_bps
    assert int(s["reward_wei"]) == reward and int(s["claimed_wei"]) == 0, s
    assert unix(s["end_time"]) - unix(s["start_time"]) == DAYS * 86_400, s
    assert s["tx_hash"].lower() == opened.tx["tx_hash"].lower()
    assert unix(s["start_time"]) == unix(opened.tx["block_time"]), (s, opened.tx)
    # The wallet paid the principal and its gas, nothing else; the vault holds the principal.
    assert opened.tx["status"] == "confirmed" and opened.tx["receipt"]["succeeded"], opened.tx
    assert opened.tx["from_address"].lower() == opened.staker.address.lower()
    assert opened.wallet_before - opened.wallet_after == wei(AMOUNT) + market.gas_cost_wei(opened.tx)
    before, after = opened.vault_before, opened.vault_after
    assert after["balance_wei"] - before["balance_wei"] == wei(AMOUNT), (before, after)
    assert after["total_principal_wei"] - before["total_principal_wei"] == wei(AMOUNT)
    assert before["pool_free_wei"] - after["pool_free_wei"] == reward
    assert after["pool_reserved_wei"] - before["pool_reserved_wei"] == reward
    listed = market.list_stakes(client, opened.staker)
    assert listed["total"] == 1 and listed["items"][0]["id"] == s["id"], listed


@dataclass
class Claimed:
    prepared: dict[str, Any]
    stake: dict[str, Any]
    tx: dict[str, Any]
    wallet_before: int
    wallet_after: int
    stranger_claim: httpx.Response
    stranger_unstake: httpx.Response


@pytest.fixture(scope="module")
def claimed(client: httpx.Client, opened: Opened) -> Claimed:
    staker, stake_id = opened.staker, opened.stake["id"]
    stranger = sign_in(client)
    market.fund(client, stranger.address, "1")
    stranger_claim = market.start_claim(client, stranger, stake_id)
    stranger_unstake = market.start_unstake(client, stranger, stake_id)

    def prepared() -> dict[str, Any] | None:
        resp = market.start_claim(client, staker, stake_id)
        if resp.status_code == 409:  # nothing accrued yet at the head block's time
            nudge_clock(client)
            return None
        return market.expect(resp, "claim")

    answer: dict[str, Any] = wait_until(prepared, DEADLINE_S, interval=0.5, message="a claim was never prepared")
    wallet_before = market.native_wei(client, staker.address)
    resp, tx_hash = hand_in(client, staker, stake_id, market.prepared_tx(answer), "claim")
    assert resp.status_code == 202, resp.text
    stake = market.wait_stake(client, staker, stake_id, lambda s: int(s["claimed_wei"]) > 0, "its claim",
                              timeout=DEADLINE_S)
    return Claimed(answer, stake, wait_mined(client, tx_hash), wallet_before,
                   market.native_wei(client, staker.address), stranger_claim, stranger_unstake)


def test_a_claim_pays_exactly_what_accrued_by_its_block_time_and_records_what_the_vault_paid(
        client: httpx.Client, opened: Opened, claimed: Claimed) -> None:
    s, tx = opened.stake, claimed.tx
    assert tx["status"] == "confirmed" and tx["receipt"]["succeeded"], tx
    prepared_tx = market.prepared_tx(claimed.prepared)
    assert prepared_tx["from"].lower() == opened.staker.address.lower() and prepared_tx["value"] == 0
    expected = accrued_wei(int(s["reward_wei"]), unix(s["start_time"]), unix(s["end_time"]), unix(tx["block_time"]))
    assert expected > 0
    # The preview was at the head block's time, before the claim's block: never more than paid.
    preview = int(claimed.prepared["claimed_wei"])
    assert 0 < preview <= expected, (preview, expected)
    assert Decimal(claimed.prepared["claimed"]) * WEI == preview
    assert claimed.wallet_after - claimed.wallet_before == expected - market.gas_cost_wei(tx)
    assert int(claimed.stake["claimed_wei"]) == expected, claimed.stake
    assert claimed.stake["status"] == "active"
    events = [ev for ev in tx["receipt"]["events"] if ev["name"] == "RewardsClaimed"]
    assert all(int(ev["args"]["amount"]) == expected for ev in events), events


def test_only_the_staker_can_claim_or_unstake_its_stake(claimed: Claimed) -> None:
    is_problem(claimed.stranger_claim, 404)
    is_problem(claimed.stranger_unstake, 404)


def test_an_early_unstake_pays_principal_plus_accrued_minus_claimed_minus_penalty_and_refills_the_pool(
        client: httpx.Client, opened: Opened, claimed: Claimed) -> None:
    staker, s = opened.staker, claimed.stake
    vault = market.vault(client)
    penalty_bps = int(vault["early_exit_penalty_bps"])
    principal, reward, claimed_wei = int(s["amount_wei"]), int(s["reward_wei"]), int(s["claimed_wei"])
    before = vault_figures(client)
    answer = market.expect(market.start_unstake(client, staker, s["id"]), "unstake")
    penalty = principal * penalty_bps // 10_000
    assert answer["early"] is True and int(answer["penalty_wei"]) == penalty > 0, answer
    assert Decimal(answer["penalty"]) * WEI == penalty
    wallet_before = market.native_wei(client, staker.address)
    resp, tx_hash = hand_in(client, staker, s["id"], market.prepared_tx(answer), "unstake")
    assert resp.status_code == 202, resp.text
    closed = market.wait_stake(client, staker, s["id"], lambda x: x["status"] == "closed", "its close",
                               timeout=DEADLINE_S)
    tx = wait_mined(client, tx_hash)
    assert tx["receipt"]["succeeded"], tx
    accrued = accrued_wei(reward, unix(s["start_time"]), unix(s["end_time"]), unix(tx["block_time"]))
    payout = principal + accrued - claimed_wei - penalty
    assert int(answer["payout_wei"]) <= payout, (answer, payout)  # previewed at an earlier block time
    assert market.native_wei(client, staker.address) - wallet_before == payout - market.gas_cost_wei(tx)
    after = vault_figures(client)
    assert after["pool_free_wei"] - before["pool_free_wei"] == penalty + (reward - accrued), (before, after)
    assert before["pool_reserved_wei"] - after["pool_reserved_wei"] == reward - claimed_wei
    assert before["total_principal_wei"] - after["total_principal_wei"] == principal
    assert before["balance_wei"] - after["balance_wei"] == payout
    assert closed["closed_at"] and Decimal(closed["payout"]) * WEI == payout, closed
    assert Decimal(closed["penalty"]) * WEI == penalty, closed
    # Closed: nothing more to claim or unstake.
    is_problem(market.start_claim(client, staker, s["id"]), 409)
    is_problem(market.start_unstake(client, staker, s["id"]), 409)


# ------------------------------------------------------------------ bad hand-ins move nothing


def test_a_hand_in_that_is_not_the_prepared_call_or_not_the_stakers_is_a_4xx_and_moves_nothing(
        client: httpx.Client, asset: dict[str, Any]) -> None:
    staker, stranger = sign_in(client), sign_in(client)
    market.fund(client, staker.address, "2")
    market.fund(client, stranger.address, "2")
    created = market.expect(market.start_stake(client, staker, asset["id"], "1", 30), "stake", 201)
    pending, tx = market.stake_of(created), market.prepared_tx(created)
    before = vault_figures(client)
    path = f"/api/v1/stakes/{pending['id']}/transaction"
    # The staker's own signature of another call: less value than the quote's amount.
    cheaper = staker.wallet.sign_transaction({**tx, "value": tx["value"] - 1})
    is_problem(client.post(path, json={"raw_transaction": cheaper}, headers=staker.headers), 400)
    # The prepared call signed by another wallet.
    theirs = stranger.wallet.sign_transaction({**tx, "from": stranger.address})
    refused = client.post(path, json={"raw_transaction": theirs}, headers=staker.headers)
    assert refused.status_code in (400, 403), refused.text
    is_problem(refused, refused.status_code)
    # Not a transaction at all, both forms at once, and another user's hand-in of the real one.
    is_problem(client.post(path, json={"raw_transaction": "0x1234"}, headers=staker.headers), 400)
    both = {"raw_transaction": staker.wallet.sign_transaction(tx), "tx_hash": "0x" + "ab" * 32}
    assert 400 <= client.post(path, json=both, headers=staker.headers).status_code < 500
    is_problem(client.post(path, json={"raw_transaction": staker.wallet.sign_transaction(tx)},
                           headers=stranger.headers), 404)
    assert market.get_stake(client, staker, pending["id"])["status"] == "pending"
    assert vault_figures(client) == before
    assert market.native_wei(client, stranger.address) == wei("2")


# ------------------------------------------------------------------ the pool cap, on chain


def test_a_stake_the_pool_cannot_cover_is_409_naming_the_capacity_and_funding_the_pool_reopens_it(
        client: httpx.Client, asset: dict[str, Any]) -> None:
    staker = sign_in(client)
    days = 365
    free = vault_figures(client)["pool_free_wei"]
    apr_bps = int(Decimal(market.staking_quote(client, None, asset["id"], "1", days)["apr"]) * 100)
    # The smallest whole-ETH principal whose reservation exceeds what the pool has free.
    amount_eth = free * 10_000 * YEAR_S // (apr_bps * days * 86_400 * WEI) + 1
    # The faucet gives at most 100 ETH at a time; the e2e stack's pool starts at 10 ETH (conftest).
    faucet_calls = amount_eth // 100 + 1
    assert faucet_calls <= 20, f"the pool holds {free} wei free: the e2e stack's small pool is not in effect"
    amount = str(amount_eth)
    quote = market.staking_quote(client, staker, asset["id"], amount, days)
    assert int(Decimal(quote["apr"]) * 100) == apr_bps, quote  # the same APR as for 1 ETH
    reservation = int(quote["signed_quote"]["reservation_wei"])
    assert reservation > free
    for _ in range(faucet_calls):
        market.fund(client, staker.address, "100")

    body = is_problem(market.start_stake(client, staker, asset["id"], amount, days), 409)
    assert body["type"].endswith("pool-capacity"), body
    assert int(body["reservation_wei"]) == reservation and int(body["pool_free_wei"]) == free, body
    assert Decimal(body["reservation"]) * WEI == reservation and Decimal(body["pool_free"]) * WEI == free
    assert market.list_stakes(client, staker)["total"] == 0

    top_up = reservation - free + WEI
    funded = market.fund_vault(client, str(Decimal(top_up).scaleb(-18)))
    assert int(funded["vault"]["pool_free_wei"]) == free + top_up, funded
    assert vault_figures(client)["pool_free_wei"] == free + top_up
    stake = market.stake(client, staker, asset["id"], amount, days)
    assert int(stake["reward_wei"]) == reservation and int(stake["amount_wei"]) == wei(amount), stake
    assert vault_figures(client)["pool_free_wei"] == free + top_up - reservation


# ------------------------------------------------------------------ opened on the vault directly


def test_a_stake_opened_on_the_vault_directly_is_listed_for_its_wallet(
        client: httpx.Client, stack: Stack, asset: dict[str, Any]) -> None:
    staker = sign_in(client)
    market.fund(client, staker.address, "2")
    signed = market.staking_quote(client, staker, asset["id"], "1", 90)["signed_quote"]
    # Building the vault call is the staking service's RPC (any wallet could encode it itself).
    with chain_stub(stack, "staking") as chain:
        prepared = chain.PrepareStake(chain_pb.PrepareStakeRequest(
            quote_json=json.dumps(signed["quote"]), signature=signed["signature"], staker=staker.address),
            timeout=30)
        assert prepared.pool_can_cover and prepared.prepared.can_pay, prepared
        raw = staker.wallet.sign_transaction(tx_out(prepared.prepared.transaction))
        sent = chain.SubmitRawTransaction(chain_pb.SubmitRawTransactionRequest(
            raw_transaction=raw, expected=prepared.prepared.transaction, type=chain_pb.TRANSACTION_TYPE_STAKE),
            timeout=30)
    assert wait_mined(client, sent.tx_hash)["receipt"]["succeeded"]

    def listed() -> dict[str, Any] | None:
        page = market.list_stakes(client, staker)
        return page["items"][0] if page["total"] == 1 and page["items"][0]["status"] == "active" else None

    s: dict[str, Any] = wait_until(listed, DEADLINE_S, interval=0.3, message="the vault's stake was never listed")
    assert s["origin"] == "chain" and s["vault_stake_id"] > 0 and s["tx_hash"].lower() == sent.tx_hash.lower(), s
    assert int(s["amount_wei"]) == wei("1") and s["apr_bps"] == signed["apr_bps"]
    assert int(s["reward_wei"]) == int(signed["reservation_wei"])
    assert market.get_stake(client, staker, s["id"])["id"] == s["id"]


# ------------------------------------------------------------------ make reconcile


def reconcile(stack: Stack) -> subprocess.CompletedProcess[str]:
    """`make reconcile`, pointed at this system's services."""
    return subprocess.run([sys.executable, "-m", "ipheron_devstack.reconcile", "--chain", stack.addr("chain"),
                           "--assets", stack.addr("assets"), "--staking", stack.addr("staking"),
                           "--tls-dir", str(stack.tls_dir / "operator")],
                          capture_output=True, text=True, timeout=120)


def test_reconcile_finds_no_difference_between_the_stakes_and_the_vault_and_names_one_broken_behind_its_back(
        stack: Stack) -> None:
    run = reconcile(stack)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "no differences" in run.stdout
    on_vault = re.search(r"(\d+) on the vault", run.stdout)
    assert on_vault and int(on_vault[1]) >= 3, run.stdout  # at least this module's three

    # A record changed with SQL behind the staking service's back is named with both values.
    engine = create_engine(sqlalchemy_url(stack.service_urls["staking"]))
    with engine.connect() as conn:
        stake_id, vault_id, claimed = conn.execute(text(
            "SELECT id, vault_stake_id, claimed_wei FROM staking.stakes WHERE status = 'active' "
            "ORDER BY created_at LIMIT 1")).one()
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE staking.stakes SET claimed_wei = claimed_wei + 1 WHERE id = :id"),
                         {"id": stake_id})
        broken = reconcile(stack)
        assert broken.returncode == 1, broken.stdout + broken.stderr
        lines = [line for line in broken.stdout.splitlines() if line.startswith("staking ")]
        assert lines == [f"staking stake_claimed_wei  stake {stake_id} (vault stake {int(vault_id)}): "
                         f"on chain {int(claimed)}, recorded {int(claimed) + 1}"], broken.stdout
    finally:
        with engine.begin() as conn:
            conn.execute(text("UPDATE staking.stakes SET claimed_wei = :c WHERE id = :id"),
                         {"c": claimed, "id": stake_id})
        engine.dispose()
    assert reconcile(stack).returncode == 0
