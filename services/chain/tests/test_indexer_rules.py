"""The indexer's pure rules (no chain, no database): confirmation depth and bounded ranges,
reorg detection and the common ancestor, which events a reorg undoes, and every contract
event's domain payload meeting its published schema."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from chain_service import index_rules as rules
from chain_service.contracts import load_artifact
from chain_service.index_rules import BlockContext, BlockHeader, BlockRef, ChainLog, Checkpoint, EventKey, StoredEvent
from ipheron_libs import events

MARKET = "0x" + "11" * 20
TOKEN = "0x" + "22" * 20
SELLER, BUYER, CO1, CO2 = ("0x" + c * 40 for c in "abcd")
TX = "0x" + "ee" * 32
BLOCK = "0x" + "b1" * 32
ASSET = uuid.uuid4()


def h(n: int, fork: str = "a") -> str:
    return "0x" + (fork * 2 + f"{n:062x}")[:64]


def chain_log(event: str, args: dict[str, Any], *, index: int = 0, contract: str = MARKET, block: int = 7,
              tx: str = TX, block_hash: str = BLOCK) -> ChainLog:
    return ChainLog(contract=contract, event=event, args=args, block_number=block, block_hash=block_hash, tx_hash=tx,
                    log_index=index)


def ctx() -> BlockContext:
    return BlockContext(chain_id=1337, block_times={7: 1_764_000_000}, assets={5: ASSET})


def check(domain_type: str, payload: dict[str, Any]) -> None:
    """The payload meets the published schema of its domain event (as `events.emit` checks it)."""
    events.check(events.Event(str(uuid.uuid4()), domain_type, 1, "2026-12-01T00:00:00+00:00", rules.ACTOR, payload))


# --- depth and ranges -------------------------------------------------------------------

@pytest.mark.parametrize("latest, confirmations, safe", [(10, 1, 10), (10, 3, 8), (1, 3, -1), (0, 1, 0)])
def test_a_block_is_confirmed_with_the_configured_confirmations_counting_itself(latest: int, confirmations: int,
                                                                                 safe: int) -> None:
    assert rules.safe_head(latest, confirmations) == safe
    assert rules.depth(confirmations) == confirmations - 1


def test_ranges_are_bounded_and_stop_at_the_safe_head() -> None:
    assert rules.next_range(-1, 10, 4) == (0, 3)
    assert rules.next_range(3, 10, 4) == (4, 7)
    assert rules.next_range(7, 10, 4) == (8, 10)
    assert rules.next_range(10, 10, 4) is None
    assert rules.next_range(5, 3, 4) is None  # the checkpoint is ahead of the safe head (after a revert)


def test_lag_counts_confirmed_blocks_not_indexed_and_the_threshold_is_strict() -> None:
    assert rules.lag(100, 3, 90) == 8
    assert rules.lag(100, 1, 100) == 0
    assert rules.lag(100, 1, 120) == 0
    assert not rules.is_lagging(50, 50) and rules.is_lagging(51, 50)


# --- reorgs -------------------------------------------------------------------------------

def test_a_stored_block_is_reorged_when_the_node_has_another_hash_or_none() -> None:
    stored = BlockRef(9, h(9))
    assert not rules.is_reorged(stored, h(9).upper().replace("0X", "0x"))
    assert rules.is_reorged(stored, h(9, "c"))
    assert rules.is_reorged(stored, None)


def test_the_common_ancestor_is_the_newest_stored_block_the_node_still_has() -> None:
    stored = [BlockRef(12, h(12)), BlockRef(10, h(10)), BlockRef(8, h(8)), BlockRef(5, h(5))]
    node = {12: None, 10: h(10, "c"), 8: h(8), 5: h(5)}
    assert rules.common_ancestor(stored, node) == BlockRef(8, h(8))
    assert rules.common_ancestor(stored, {12: None, 10: h(10, "c"), 8: h(8, "c"), 5: h(5, "c")}) is None
    assert rules.common_ancestor(stored[:2], node) is None  # not in this batch: walk further back


def test_a_range_that_changed_under_the_read_is_not_trusted() -> None:
    cp = Checkpoint(6, h(6), 0)
    good = {7: BlockHeader(7, BLOCK, h(6), 1), 9: BlockHeader(9, h(9), h(8), 2)}
    assert rules.range_problem(7, cp, good, [chain_log("Withdrawn", {})]) is None
    moved_parent = {**good, 7: BlockHeader(7, BLOCK, h(6, "c"), 1)}
    assert "does not follow" in (rules.range_problem(7, cp, moved_parent, []) or "")
    other_block = {**good, 7: BlockHeader(7, h(7, "c"), h(6), 1)}
    assert "no longer the node's" in (rules.range_problem(7, cp, other_block, [chain_log("Withdrawn", {})]) or "")
    # Before the first block is indexed there is no hash to follow.
    assert rules.range_problem(7, Checkpoint(6, None, 7), moved_parent, []) is None


def stored(n: int, index: int, domain_type: str = rules.CREDIT) -> StoredEvent:
    return StoredEvent(key=EventKey(h(n), TX, index), block_number=n, contract=MARKET, event="SellerCredited",
                       domain_type=domain_type, domain_event_id=str(uuid.uuid4()),
                       payload={"chain_id": 1337, "block_number": n})


def test_a_reorg_undoes_every_event_above_the_ancestor_newest_first_with_a_compensating_event() -> None:
    events_ = [stored(5, 0), stored(8, 1), stored(8, 0), stored(9, 3, rules.SALE_RECORDED)]
    plan = rules.undo_plan(events_, ancestor=7)
    assert [(u.key.block_hash, u.key.log_index) for u in plan] == [(h(9), 3), (h(8), 1), (h(8), 0)]
    first = plan[0].payload
    assert first["event_id"] == events_[3].domain_event_id and first["event_type"] == rules.SALE_RECORDED
    assert first["undone"] == events_[3].payload and first["reason"] == "reorg"
    for undo in plan:
        check(rules.EVENT_REVERTED, dict(undo.payload))
    assert rules.undo_plan(events_, ancestor=9) == []


def test_blocks_without_events_are_kept_a_bounded_depth() -> None:
    assert rules.keep_blocks_from(5000, 1024) == 3976
    assert rules.keep_blocks_from(10, 1024) == 0


# --- which events, from the ABIs ---------------------------------------------------------

def names(artifact: str, wanted: tuple[str, ...]) -> set[str]:
    return {str(e["name"]) for e in rules.subscribed(load_artifact(artifact).abi, wanted)}


def test_the_subscribed_events_come_from_the_abis_by_name() -> None:
    assert names("IPAssetTokenV2", rules.TOKEN_EVENTS) == {"Transfer", "AssetMinted"}
    assert names("MarketplaceV2", rules.MARKET_EVENTS) == {
        "Sold", "SellerCredited", "RoyaltyCredited", "FeeCredited", "Withdrawn", "WithdrawalFailed", "OrderFulfilled",
        "Cancelled", "CounterIncremented"}
    # An event the rules do not know is never subscribed (e.g. the timelock's Cancelled shape on the token list).
    assert names("IPAssetTokenV2", ("Approval", "RoleGranted")) == set()


# --- payloads -----------------------------------------------------------------------------

def sale_logs(*, v2: bool = False) -> list[ChainLog]:
    sold: dict[str, Any] = {"tokenId": 5, "seller": SELLER, "buyer": BUYER, "price": 10**18 + 7, "royalty": 10**17}
    if v2:
        sold |= {"fee": 25 * 10**15, "orderHash": b"\x01" * 32}
    logs = [
        chain_log("RoyaltyCredited", {"tokenId": 5, "coCreator": CO1, "amount": 6 * 10**16}, index=0),
        chain_log("RoyaltyCredited", {"tokenId": 5, "coCreator": CO2, "amount": 4 * 10**16}, index=1),
        chain_log("SellerCredited", {"tokenId": 5, "seller": SELLER, "amount": 9 * 10**17 + 7}, index=2),
        chain_log("Sold", sold, index=3),
        chain_log("Transfer", {"from": SELLER, "to": BUYER, "tokenId": 5}, index=4, contract=TOKEN),
    ]
    if v2:
        logs.insert(2, chain_log("FeeCredited", {"tokenId": 5, "recipient": CO1, "amount": 25 * 10**15}, index=9))
    return logs


def test_a_sale_becomes_chain_sale_recorded_with_wei_strings_and_the_transactions_credits() -> None:
    items = rules.to_indexed(sale_logs(), ctx())
    assert [i.domain_type for i in items] == [rules.CREDIT, rules.CREDIT, rules.CREDIT, rules.SALE_RECORDED,
                                              rules.TRANSFER]
    sale = next(i for i in items if i.domain_type == rules.SALE_RECORDED).payload
    assert sale["price_wei"] == "1000000000000000007" and sale["royalty_wei"] == str(10**17)
    assert sale["fee_wei"] == "0" and sale["order_hash"] is None
    assert sale["asset_id"] == str(ASSET) and sale["token_id"] == "5"
    assert sale["seller"] == rules._addr(SELLER) and sale["buyer"] == rules._addr(BUYER)
    assert sale["block_time"] == "2025-11-24T16:00:00+00:00" and sale["tx_hash"] == TX and sale["log_index"] == 3
    assert sum(int(c["amount_wei"]) for c in sale["credits"]) == 10**18 + 7
    assert sorted(c["kind"] for c in sale["credits"]) == ["royalty", "royalty", "seller"]
    transfer = items[-1].payload
    assert (transfer["kind"], transfer["contract"]) == ("transfer", rules._addr(TOKEN))
    for item in items:
        check(item.domain_type, dict(item.payload))
        assert item.args == rules.json_safe(dict(item.args))


def test_a_v2_sale_carries_its_fee_and_order_hash() -> None:
    items = rules.to_indexed(sale_logs(v2=True), ctx())
    sale = next(i for i in items if i.domain_type == rules.SALE_RECORDED).payload
    assert sale["fee_wei"] == str(25 * 10**15) and sale["order_hash"] == "0x" + "01" * 32
    assert {"payee": rules._addr(CO1), "amount_wei": str(25 * 10**15), "kind": "fee"} in sale["credits"]
    for item in items:
        check(item.domain_type, dict(item.payload))


ONE_OF_EACH: list[tuple[str, dict[str, Any]]] = [
    ("Transfer", {"from": rules.ZERO_ADDRESS, "to": BUYER, "tokenId": 5}),
    ("AssetMinted", {"tokenId": 5, "assetId": ASSET.bytes, "owner": SELLER, "uri": "ipfs://x" * 1000}),
    ("Sold", {"tokenId": 5, "seller": SELLER, "buyer": BUYER, "price": 1, "royalty": 0}),
    ("SellerCredited", {"tokenId": 6, "seller": SELLER, "amount": 2**255}),
    ("RoyaltyCredited", {"tokenId": 5, "coCreator": CO1, "amount": 0}),
    ("FeeCredited", {"tokenId": 5, "recipient": CO2, "amount": 3}),
    ("Withdrawn", {"payee": SELLER, "amount": 2**256 - 1}),
    ("WithdrawalFailed", {"payee": SELLER, "amount": 5}),
    ("OrderFulfilled", {"orderHash": b"\x02" * 32, "seller": SELLER, "recipient": BUYER, "payer": CO1, "tokenId": 5,
                        "price": 9}),
    ("Cancelled", {"orderHash": b"\x03" * 32, "seller": SELLER}),
    ("CounterIncremented", {"seller": SELLER, "counter": 4}),
    ("StakeOpened", {"stakeId": 1, "staker": BUYER, "tokenId": 5, "amount": 10**18, "aprBps": 1200,
                     "start": 1_764_000_000, "end": 1_766_592_000, "reward": 9863013698630137, "nonce": 2**200,
                     "quoteHash": b"\x04" * 32}),
    ("RewardsClaimed", {"stakeId": 1, "staker": BUYER, "amount": 7}),
    ("Unstaked", {"stakeId": 1, "staker": BUYER, "paid": 9 * 10**17, "rewardsPaid": 0, "penalty": 10**17,
                  "early": True}),
    ("PoolFunded", {"from": SELLER, "amount": 1000 * 10**18}),
]


def test_every_rule_has_a_case_here() -> None:
    assert {name for name, _ in ONE_OF_EACH} == set(rules.EVENT_RULES)


@pytest.mark.parametrize("event, args", ONE_OF_EACH, ids=[n for n, _ in ONE_OF_EACH])
def test_every_indexed_event_publishes_a_payload_its_schema_accepts(event: str, args: dict[str, Any]) -> None:
    (item,) = rules.to_indexed([chain_log(event, args)], ctx())
    assert item.domain_type == rules.EVENT_RULES[event].domain_type
    check(item.domain_type, dict(item.payload))
    if event == "Transfer":
        assert item.payload["kind"] == "mint"
    if event == "SellerCredited":
        assert item.payload["asset_id"] is None  # an unknown token is published without its asset
    if event == "AssetMinted":
        assert item.payload["asset_id"] == str(ASSET) and len(item.payload["uri"]) == rules.MAX_URI_CHARS
    if event in ("Withdrawn", "WithdrawalFailed"):
        assert item.payload["succeeded"] is (event == "Withdrawn")


def test_mints_in_a_range_name_their_assets_and_args_are_json_safe() -> None:
    logs = [chain_log("AssetMinted", {"tokenId": 9, "assetId": ASSET.bytes, "owner": SELLER, "uri": "u"})]
    assert rules.minted_assets(logs) == {9: ASSET}
    assert rules.token_ids([*logs, chain_log("Withdrawn", {"payee": SELLER, "amount": 1})]) == {9}
    assert rules.json_safe({"a": 2**256 - 1, "b": b"\x00\x01", "c": [True, 1], "d": "x"}) == {
        "a": str(2**256 - 1), "b": "0x0001", "c": [True, "1"], "d": "x"}
