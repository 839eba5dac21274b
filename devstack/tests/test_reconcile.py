"""The reconciliation's comparison of the assets service's records with the chain names
every difference (owner, missing token, unrecorded or invented sale) and none when they agree."""

from __future__ import annotations

from ipheron_devstack.reconcile import AssetRecord, ChainSale, ChainView, Difference, compare

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
