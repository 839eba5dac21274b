"""The reconciliation's comparisons name every difference and none when the records agree:
the assets service's records vs the chain (owner, missing token, unrecorded or invented sale),
and the staking service's stakes vs the vault's (a vault stake nobody recorded, a record of a
vault stake that does not exist, one recorded twice, each figure that differs)."""

from __future__ import annotations

from ipheron.staking.v1 import staking_service_pb2 as staking_pb
from ipheron_devstack.reconcile import (
    AssetRecord,
    ChainSale,
    ChainView,
    Difference,
    StakeRecord,
    VaultStake,
    _record,
    compare,
    compare_stakes,
)

A1, A2, A3 = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222", \
    "33333333-3333-4333-8333-333333333333"
ALICE, BOB = "0x" + "a1" * 20, "0x" + "b0" * 20
SALE = "0x" + "5a" * 32


def agreeing() -> tuple[list[AssetRecord], ChainView]:
    records = [AssetRecord(A1, 1, BOB, (SALE,)), AssetRecord(A2, 2, ALICE), AssetRecord(A3, None, ALICE)]
    chain = ChainView(owners={1: BOB.upper().replace("0X", "0x"), 2: ALICE}, minted={1: A1, 2: A2},
                      sales=[ChainSale(1, SALE.upper().replace("0X", "0x"), A1)])
    return records, chain


def test_records_that_agree_with_the_chain_have_no_difference_whatever_the_address_case() -> None:
    assert compare(*agreeing()) == []


def test_an_owner_the_chain_does_not_show_is_named_with_both_values() -> None:
    records, chain = agreeing()
    records[1] = AssetRecord(A2, 2, BOB)
    assert compare(records, chain) == [Difference("assets", "owner", f"asset {A2} (token 2)", ALICE, BOB)]


def test_a_sale_missing_from_provenance_and_a_sale_the_chain_never_saw_are_both_named() -> None:
    records, chain = agreeing()
    invented = "0x" + "ee" * 32
    records[0] = AssetRecord(A1, 1, BOB, (invented,))
    diffs = compare(records, chain)
    assert [(d.kind, d.on_chain, d.recorded) for d in diffs] == [
        ("sale", f"sale {SALE}", "not in provenance"), ("sale", "no such sale", f"sale {invented} in provenance")]
    assert all(A1 in d.subject for d in diffs)


def test_a_token_minted_for_no_recorded_asset_and_a_recorded_token_the_chain_lacks_are_named() -> None:
    records, chain = agreeing()
    chain.minted[3] = A3
    del chain.owners[2]
    diffs = compare(records, chain)
    assert Difference("assets", "token", f"asset {A2} (token 2)", "no such token", f"owner {ALICE}") in diffs
    assert Difference("assets", "token", "token 3", f"minted for asset {A3}", "no asset carries it") in diffs
    assert len(diffs) == 2
    assert all(d.line().startswith("assets ") for d in diffs)


# ---------------------------------------------------------------- the staking service's stakes vs the vault's

S1, S2 = "44444444-4444-4444-8444-444444444444", "55555555-5555-4555-8555-555555555555"
ETH = 10**18


def staking_agreeing() -> tuple[list[StakeRecord], list[VaultStake]]:
    records = [
        StakeRecord(S1, "active", 1, ALICE, 7, 2 * ETH, 500, 24_657_534_246_575_343, 10**15),
        StakeRecord(S2, "closed", 2, BOB.upper().replace("0X", "0x"), 8, 10**6, 1050, 5, 2, closing_rewards_wei=3),
        StakeRecord("66666666-6666-4666-8666-666666666666", "pending", 0, ALICE, 7, ETH, 300, 0, 0),
        StakeRecord("77777777-7777-4777-8777-777777777777", "failed", 0, BOB, 7, ETH, 300, 0, 0),
    ]
    vault = [VaultStake(1, ALICE, 7, 2 * ETH, 500, 24_657_534_246_575_343, 10**15, False),
             VaultStake(2, BOB, 8, 10**6, 1050, 5, 5, True)]
    return records, vault


def test_stakes_that_agree_with_the_vault_have_no_difference_and_pending_or_failed_ones_need_no_vault_stake() -> None:
    assert compare_stakes(*staking_agreeing()) == []


def test_a_vault_stake_no_record_carries_and_a_record_naming_no_vault_stake_are_both_named() -> None:
    records, vault = staking_agreeing()
    vault.append(VaultStake(3, BOB, 9, 5 * ETH, 300, 12_328_767_123_287_672, 0, False))
    records[1] = StakeRecord(S2, "closed", 4, BOB, 8, 10**6, 1050, 5, 2, closing_rewards_wei=3)
    diffs = compare_stakes(records, vault)
    assert Difference("staking", "stake", "vault stake 2", f"{10**6} wei by {BOB} (closed)",
                      "no stake records it") in diffs
    assert Difference("staking", "stake", "vault stake 3", f"{5 * ETH} wei by {BOB}", "no stake records it") in diffs
    assert Difference("staking", "stake", f"stake {S2} (vault stake 4)", "no such vault stake",
                      f"closed, {10**6} wei") in diffs
    assert len(diffs) == 3 and all(d.line().startswith("staking stake ") for d in diffs)


def test_each_figure_that_differs_from_the_vault_is_named_with_both_values() -> None:
    records, vault = staking_agreeing()
    records[0] = StakeRecord(S1, "closed", 1, BOB, 8, 3 * ETH, 501, 1, 2 * 10**15)
    subject = f"stake {S1} (vault stake 1)"
    assert compare_stakes(records, vault) == [
        Difference("staking", "stake_staker", subject, ALICE, BOB),
        Difference("staking", "stake_token", subject, "7", "8"),
        Difference("staking", "stake_amount_wei", subject, str(2 * ETH), str(3 * ETH)),
        Difference("staking", "stake_apr_bps", subject, "500", "501"),
        Difference("staking", "stake_reward_wei", subject, "24657534246575343", "1"),
        Difference("staking", "stake_claimed_wei", subject, str(10**15), str(2 * 10**15)),
        Difference("staking", "stake_status", subject, "open", "closed"),
    ]


def test_a_closed_stake_whose_unstake_rewards_are_not_what_the_vault_counted_as_claimed_is_named() -> None:
    records, vault = staking_agreeing()
    records[1] = StakeRecord(S2, "closed", 2, BOB, 8, 10**6, 1050, 5, 2, closing_rewards_wei=2)
    assert compare_stakes(records, vault) == [
        Difference("staking", "stake_claimed_wei", f"stake {S2} (vault stake 2)", "5", "4")]


def test_a_stake_recorded_twice_or_active_without_a_vault_stake_is_named() -> None:
    records, vault = staking_agreeing()
    twin = StakeRecord("88888888-8888-4888-8888-888888888888", "active", 1, ALICE, 7, 2 * ETH, 500,
                       24_657_534_246_575_343, 10**15)
    orphan = StakeRecord("99999999-9999-4999-8999-999999999999", "active", 0, ALICE, 7, ETH, 300, 0, 0)
    diffs = compare_stakes([*records, twin, orphan], vault)
    assert diffs == [
        Difference("staking", "stake", f"stake {orphan.stake_id}", "no vault stake", "active without a vault stake id"),
        Difference("staking", "stake", "vault stake 1", "one stake", f"recorded by {S1}, {twin.stake_id}"),
    ]


def test_a_closed_stakes_unstake_rewards_are_read_exactly_from_its_payout_and_penalty() -> None:
    closed = staking_pb.Stake(id=S1, status=staking_pb.STAKE_STATUS_CLOSED, vault_stake_id=1, wallet=ALICE,
                              token_id=7, amount_wei="2500000000000000007", apr_bps=300,
                              reward_wei="6164383561643836", claimed_wei="1000",
                              payout="2.250000000000123463", penalty="0.25")
    # payout = principal − penalty + rewards: 2.250000000000123463 − 2.500000000000000007 + 0.25
    assert _record(closed).closing_rewards_wei == 123_456
    active = staking_pb.Stake(id=S2, status=staking_pb.STAKE_STATUS_ACTIVE, vault_stake_id=2, wallet=BOB,
                              amount_wei="1", claimed_wei="7")
    assert _record(active) == StakeRecord(S2, "active", 2, BOB, 0, 1, 0, 0, 7, 0)
