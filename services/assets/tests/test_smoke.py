"""Smoke: create an asset with one creator; it is minted and active."""

from __future__ import annotations

from ipheron.assets.v1 import assets_service_pb2 as pb

from conftest import create_request


async def test_single_creator_asset_is_minted_and_active(replica, new_user, risk) -> None:  # type: ignore[no-untyped-def]
    alice = await new_user()
    resp = await replica.stub.CreateAsset(create_request([(alice, "100")], alice))
    a = resp.asset
    assert a.status == pb.ASSET_STATUS_ACTIVE, a
    assert a.token_id and a.contract_address.startswith("0x") and a.mint_tx_hash.startswith("0x")
