"""A callee failing with INTERNAL is a bug there, not a passing condition (it is not
`Transient`), but a saga's writes are keyed: their outcome is unknown, so the step is
retried with the same key rather than recorded as a definitive failure."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from conftest import create_request
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron_libs import db
from sqlalchemy import text


class BuggyChain(chain_grpc.ChainServiceServicer):
    """A real gRPC ChainService whose MintAsset fails with INTERNAL (and a detail we must not leak)."""

    def __init__(self) -> None:
        self.mints: list[str] = []

    async def MintAsset(self, request: chain_pb.MintAssetRequest,
                        context: grpc.aio.ServicerContext) -> chain_pb.MintAssetResponse:
        self.mints.append(request.asset_id)
        await context.abort(grpc.StatusCode.INTERNAL, "Traceback: KeyError 'nonce'")
        raise AssertionError("unreachable")


@pytest.fixture()
async def buggy_chain() -> AsyncIterator[tuple[str, BuggyChain]]:
    servicer = BuggyChain()
    server = grpc.aio.server()
    chain_grpc.add_ChainServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", servicer
    await server.stop(0)


async def test_a_chain_bug_during_the_mint_is_retried_with_the_same_asset_not_failed(
        start_replica, new_user, risk, buggy_chain, clean_assets) -> None:  # type: ignore[no-untyped-def]
    addr, chain = buggy_chain
    replica = await start_replica(chain_addr=addr)
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice))).asset
    # Not FAILED: the mint may or may not have happened on the chain side.
    assert (asset.status, asset.token_id) == (pb.ASSET_STATUS_PENDING, "")
    assert chain.mints == [asset.id]

    engine = db.make_engine(clean_assets, "assets", pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            state, error = conn.execute(text("SELECT state, error FROM sagas WHERE asset_id = :id"),
                                        {"id": asset.id}).one()
            assert state == "minting" and error == "chain failed"  # no callee detail kept
            conn.execute(text("UPDATE sagas SET next_attempt_at = now()"))  # skip the back-off
    finally:
        engine.dispose()
    assert await replica.app.service.recover_once() == 1
    assert chain.mints == [asset.id, asset.id]  # re-sent for the same asset (MintAsset is idempotent per id)
    got = (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
    assert got.status == pb.ASSET_STATUS_PENDING
