"""kill -9 of a real assets process between the broadcast of the buyer's transaction and its
record: the restarted process reads the chain's sale event and completes the purchase, once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable

import grpc
import pytest
from conftest import create_request, fund, list_for_sale, rejected, settled, tx_dict
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.assets.v1 import assets_service_pb2_grpc as pb_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.testing import wait_until_async


async def _wait_serving(port: int, proc: subprocess.Popen[bytes]) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = health_pb2_grpc.HealthStub(ch)

        async def serving() -> bool:
            assert proc.poll() is None, f"assets exited with {proc.returncode}"
            resp = await stub.Check(health_pb2.HealthCheckRequest(), timeout=1)
            return resp.status == health_pb2.HealthCheckResponse.SERVING

        # Bounded: start-up includes imports, migrations and recovery.
        await wait_until_async(serving, 60.0, interval=0.1, ignore=(grpc.aio.AioRpcError,),
                               message="assets process did not become SERVING")


@pytest.fixture()
async def spawn(clean_assets, redis_url, auth_server, chain_server, ai_server, tmp_path) -> AsyncIterator[Callable]:  # type: ignore[no-untyped-def,type-arg]
    procs: list[subprocess.Popen[bytes]] = []

    async def start(port: int, **env: str) -> subprocess.Popen[bytes]:
        full = dict(os.environ) | {
            "IPHERON_ENV": "test", "DATABASE_URL": clean_assets, "REDIS_URL": redis_url, "AUTH_ADDR": auth_server,
            "CHAIN_ADDR": chain_server, "AI_AGENTS_ADDR": ai_server[0], "ASSETS_GRPC_PORT": str(port),
            "ASSETS_METRICS_PORT": "0", "ASSETS_INSTANCE_ID": "assets-process-1", "DATA_DIR": str(tmp_path),
            "ASSETS_EVENT_RETRY_IDLE_MS": "1000",
        } | env
        # A real OS process is the point of this test; spawning it blocks for microseconds.
        log = open(tmp_path / f"assets-{len(procs)}.log", "wb")  # noqa: SIM115, ASYNC230 - the child writes it
        proc = subprocess.Popen([sys.executable, "-m", "assets_service"], env=full,  # noqa: ASYNC220
                                stdout=log, stderr=log)
        procs.append(proc)
        await _wait_serving(port, proc)
        return proc

    yield start
    for p in procs:  # only the processes this test started
        if p.poll() is None:
            p.terminate()
            p.wait(20)


async def test_killed_between_broadcast_and_record_is_completed_exactly_once_after_restart(
        spawn, new_user, risk, chain_stub, clean_assets) -> None:  # type: ignore[no-untyped-def]
    alice, buyer = await new_user(), await new_user()
    port = free_port()
    proc = await spawn(port, ASSETS_CRASH_AT="purchase.after_broadcast")
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = pb_grpc.AssetsServiceStub(ch)
        asset = (await stub.CreateAsset(create_request([(alice, "100")], alice))).asset
        assert asset.status == pb.ASSET_STATUS_ACTIVE
        await list_for_sale(stub, alice, asset.id, "1")
        await fund(chain_stub, buyer, 3)
        offer = (await stub.PurchaseAsset(pb.PurchaseAssetRequest(
            actor=buyer.actor, asset_id=asset.id, idempotency_key="kill-9"))).purchase
        raw = buyer.signer.sign_transaction(tx_dict(offer.transaction))
        err = await rejected(stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
            actor=buyer.actor, purchase_id=offer.id, raw_transaction=raw)))
        assert err.code() == grpc.StatusCode.UNAVAILABLE  # the process died mid-request
    assert proc.wait(20) == 137
    txs = (await chain_stub.ListTransactions(chain_pb.ListTransactionsRequest(asset_id=asset.id))).transactions
    buys = [t for t in txs if t.type == chain_pb.TRANSACTION_TYPE_BUY]
    assert len(buys) == 1  # broadcast: the chain sells; the catalog has not recorded it

    await spawn(port)  # same replica restarted, without the fault: it reads the chain's events
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
        stub = pb_grpc.AssetsServiceStub(ch)
        done = await settled(stub, offer.id)
        assert (done.state, done.tx_hash) == (pb.PURCHASE_STATE_COMPLETED, buys[0].tx_hash.lower())
        got = (await stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset
        assert (got.owner_user_id, got.owner_wallet) == (buyer.id, buyer.wallet)
        # The client's retry of the hand-in answers the finished purchase; nothing is sent again.
        again = (await stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
            actor=buyer.actor, purchase_id=offer.id, raw_transaction=raw))).purchase
        assert again.state == pb.PURCHASE_STATE_COMPLETED
        entries = (await stub.GetProvenance(pb.GetProvenanceRequest(asset_id=asset.id))).entries
        assert [e.tx_hash for e in entries if e.kind == pb.PROVENANCE_KIND_SALE] == [buys[0].tx_hash.lower()]
    txs = (await chain_stub.ListTransactions(chain_pb.ListTransactionsRequest(asset_id=asset.id))).transactions
    assert [t.type for t in txs].count(chain_pb.TRANSACTION_TYPE_BUY) == 1
    assert _sold_events(clean_assets) == 1


def _sold_events(url: str) -> int:
    from ipheron_libs import db
    from sqlalchemy import text

    engine = db.make_engine(url, "assets", pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox WHERE type = 'asset.sold'")).scalar_one())
    finally:
        engine.dispose()
