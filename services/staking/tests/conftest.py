"""Fixtures for the staking tests: one migrated "staking" schema on the real PostgreSQL from
ipheron_libs.testing, emptied between tests; the real chain service (embedded EVM, its vault
deployed and its indexer publishing through the real Redis) started in-process on port 0; a
scripted AssetsService on port 0 (the asset's status and token id are the test's choice); and
staking replicas built exactly as production builds them."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from ipheron.assets.v1 import assets_service_pb2 as assets_pb
from ipheron.assets.v1 import assets_service_pb2_grpc as assets_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron.staking.v1 import staking_service_pb2 as pb
from ipheron.staking.v1 import staking_service_pb2_grpc as pb_grpc
from ipheron_gateway.prepared import tx_out
from ipheron_libs import db
from ipheron_libs.testing import fresh_schema, wait_until_async
from ipheron_libs.wallet import Wallet
from psycopg.errors import DeadlockDetected
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError
from staking_service.config import SCHEMA, Settings
from staking_service.server import MIGRATIONS_DIR, StakingApp

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
ETH = 10**18
# The test chain's vault starts with a small pool, so exhausting it is cheap.
INITIAL_POOL_WEI = 20 * ETH
TOKEN_ID = 7


class Clock:
    """A clock tests move by hand; or (now=None) the wall clock, never behind `floor()` (the
    chain's head time, which tests move on by days), shifted by `offset`."""

    def __init__(self, now: datetime | None = T0, floor: Callable[[], int] | None = None) -> None:
        self.now = now
        self.floor = floor
        self.offset = timedelta(0)
        self._lead = 0.0

    def __call__(self) -> datetime:
        if self.now is not None:
            return self.now + self.offset
        wall = datetime.now(UTC)
        if self.floor is not None:  # the chain's lead over the wall clock, once seen, is kept
            self._lead = max(self._lead, self.floor() - wall.timestamp())
        return wall + timedelta(seconds=self._lead) + self.offset

    def advance(self, **delta: float) -> datetime:
        if self.now is None:
            self.offset += timedelta(**delta)
        else:
            self.now += timedelta(**delta)
        return self()


@pytest.fixture(scope="session")
def staking_url(pg_admin_url: str) -> str:
    """A fresh staking schema and role, migrated to head once per session."""
    return fresh_schema(pg_admin_url, SCHEMA, MIGRATIONS_DIR)


@pytest.fixture(scope="session")
def engine(staking_url: str) -> Iterator[Engine]:
    eng = db.make_engine(staking_url, SCHEMA, pool_size=4, max_overflow=4)
    yield eng
    eng.dispose()


@pytest.fixture()
def clean_engine(engine: Engine) -> Engine:
    """The tables emptied. TRUNCATE locks them one by one, so a reader still finishing from the test
    before (a relay, a consumer) can deadlock with it; PostgreSQL then aborts one side, and the
    TRUNCATE is tried again (CI saw this once)."""
    for attempt in range(5):
        try:
            with engine.begin() as conn:
                conn.execute(text("TRUNCATE stakes, prepared_actions, applied_chain_events, idempotency_keys, "
                                  "outbox, processed_events CASCADE"))
            return engine
        except OperationalError as exc:
            if not isinstance(exc.orig, DeadlockDetected) or attempt == 4:
                raise
            time.sleep(0.1)
    return engine


@pytest.fixture()
def clock() -> Clock:
    return Clock()


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def outbox_types(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r.type for r in conn.execute(text("SELECT type FROM outbox ORDER BY occurred_at, id")).all()]


# ------------------------------------------------------------------ scripted assets


class ScriptedAssets(assets_grpc.AssetsServiceServicer):
    """GetAsset of the assets contract: "unminted-*" active without a token, "gone-*" archived,
    "missing-*" not found, anything else active with token TOKEN_ID."""

    async def GetAsset(self, request: assets_pb.GetAssetRequest,
                       context: grpc.aio.ServicerContext) -> assets_pb.GetAssetResponse:
        asset_id = request.asset_id
        if asset_id.startswith("missing"):
            await context.abort(grpc.StatusCode.NOT_FOUND, "asset not found")
        if asset_id.startswith("broken"):
            await context.abort(grpc.StatusCode.INTERNAL, "psycopg: relation assets does not exist")
        status = assets_pb.ASSET_STATUS_ARCHIVED if asset_id.startswith("gone") else assets_pb.ASSET_STATUS_ACTIVE
        token = "" if asset_id.startswith("unminted") else str(TOKEN_ID)
        return assets_pb.GetAssetResponse(asset=assets_pb.Asset(id=asset_id, status=status, token_id=token))


@pytest.fixture(scope="session")
async def assets_addr() -> AsyncIterator[str]:
    server = grpc.aio.server()
    assets_grpc.add_AssetsServiceServicer_to_server(ScriptedAssets(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


# ------------------------------------------------------------------ the real chain


@dataclass
class Chain:
    app: Any  # chain_service.server.ChainApp
    addr: str
    stub: chain_grpc.ChainServiceStub

    async def fund(self, wallet: str, eth: int = 10) -> int:
        resp = await self.stub.Faucet(chain_pb.FaucetRequest(address=wallet, amount_wei=str(eth * ETH)))
        return int(resp.balance_wei)

    async def balance(self, wallet: str) -> int:
        resp = await self.stub.GetBalance(chain_pb.GetBalanceRequest(address=wallet))
        return int(resp.native_balance_wei or 0)

    async def vault(self) -> chain_pb.GetVaultResponse:
        return await self.stub.GetVault(chain_pb.GetVaultRequest())

    async def receipt(self, tx_hash: str, timeout: float = 20.0) -> chain_pb.Transaction:
        async def mined() -> chain_pb.Transaction | None:
            t = (await self.stub.GetTransaction(chain_pb.GetTransactionRequest(tx_hash=tx_hash))).transaction
            return t if t.status in (chain_pb.TRANSACTION_STATUS_CONFIRMED, chain_pb.TRANSACTION_STATUS_FAILED) \
                else None

        return await wait_until_async(mined, timeout, interval=0.05, message=f"{tx_hash} was not mined",
                                      ignore=(grpc.aio.AioRpcError,))

    def head_time(self) -> int:
        return int(self.app.service.network.head_timestamp())

    def travel(self, seconds: int) -> None:
        """Move the embedded chain's clock on by at least `seconds` (one block at the new time)."""
        tester = self.app.service.network.tester
        target = self.head_time() + seconds
        tester.time_travel(target)
        while self.head_time() < target:
            tester.mine_blocks(1)


@pytest.fixture(scope="session")
async def chain(pg_admin_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Chain]:
    from chain_service.config import ChainSettings
    from chain_service.repository import SCHEMA as CHAIN_SCHEMA
    from chain_service.server import ChainApp

    url = fresh_schema(pg_admin_url, CHAIN_SCHEMA)
    # Automine (each transaction its own block): the clock can then be moved on by days. Its
    # indexer's events reach the staking replicas through the shared Redis stream.
    settings = ChainSettings(env="test", data_dir=tmp_path_factory.mktemp("chain"), database_url=url, journal=False,
                             indexer_interval_s=0.1, block_interval_ms=0, vault_initial_pool_wei=INITIAL_POOL_WEI)
    app = ChainApp(settings, url, redis_url=redis_url)
    port = await app.start(host="127.0.0.1", port=0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    yield Chain(app, f"127.0.0.1:{port}", chain_grpc.ChainServiceStub(channel))
    await channel.close()
    await app.stop(grace=0)


# ------------------------------------------------------------------ staking replicas


@dataclass
class Replica:
    app: StakingApp
    stub: pb_grpc.StakingServiceStub
    channel: grpc.aio.Channel
    addr: str


@pytest.fixture()
async def start_staking(staking_url: str, clean_engine: Engine, redis_url: str, chain: Chain,
                        assets_addr: str) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    """Factory: a staking replica (production wiring, port 0) on the real chain; all stopped at the end."""
    started: list[Replica] = []

    async def start(clock: Callable[[], datetime] | None = None, **overrides: Any) -> Replica:
        values: dict[str, Any] = {
            "env": "test", "relay_events": True, "maturity_interval_seconds": 0, "db_pool_size": 4,
            "assets_addr": assets_addr, "chain_addr": chain.addr, "event_retry_idle_ms": 1000,
            "pending_poll_interval_s": 0.2, "redis_url": redis_url,
        }
        values.update(overrides)
        # The service's clock follows the chain's, which tests move on by days (quotes expire on it).
        app = StakingApp(Settings(**values), staking_url, redis_url, clock=clock or Clock(None, chain.head_time))
        port = await app.start(host="127.0.0.1", port=0)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        replica = Replica(app, pb_grpc.StakingServiceStub(channel), channel, f"127.0.0.1:{port}")
        started.append(replica)
        return replica

    yield start
    for r in reversed(started):
        await stop_replica(r)


async def stop_replica(r: Replica) -> None:
    """Stop a replica (its consumer's blocking stream read can take a while to give up)."""
    await r.channel.close()
    await asyncio.wait_for(r.app.stop(grace=0), 40)


@pytest.fixture(scope="session")
async def shared_staking(staking_url: str, redis_url: str, chain: Chain, assets_addr: str) -> AsyncIterator[Replica]:
    """One replica most tests share (each test empties the tables first)."""
    settings = Settings(env="test", relay_events=True, maturity_interval_seconds=0, db_pool_size=4,
                        assets_addr=assets_addr, chain_addr=chain.addr, event_retry_idle_ms=1000,
                        pending_poll_interval_s=0.2, redis_url=redis_url)
    app = StakingApp(settings, staking_url, redis_url, clock=Clock(None, chain.head_time))
    port = await app.start(host="127.0.0.1", port=0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    replica = Replica(app, pb_grpc.StakingServiceStub(channel), channel, f"127.0.0.1:{port}")
    yield replica
    await stop_replica(replica)


@pytest.fixture()
def staking(shared_staking: Replica, clean_engine: Engine) -> Replica:
    return shared_staking


# ------------------------------------------------------------------ a staker's steps


@dataclass
class Staker:
    user_id: str
    wallet: Wallet

    @property
    def address(self) -> str:
        return self.wallet.address.lower()


def new_staker() -> Staker:
    return Staker(f"user-{uuid.uuid4().hex[:10]}", Wallet.create())


def open_request(s: Staker, amount: str = "1", days: int = 30, key: str | None = None,
                 asset: str = "asset-1") -> pb.OpenStakeRequest:
    return pb.OpenStakeRequest(user_id=s.user_id, wallet=s.address, asset_id=asset, amount=amount,
                               duration_days=days, idempotency_key=key or f"k-{uuid.uuid4().hex}")


async def hand_in(stub: pb_grpc.StakingServiceStub, s: Staker, stake_id: str, tx: chain_pb.PreparedTransaction,
                  kind: int = pb.STAKE_TRANSACTION_KIND_OPEN) -> pb.SubmitStakeTransactionResponse:
    """The staker's wallet signs the prepared transaction unchanged; it is handed in raw."""
    raw = s.wallet.sign_transaction(tx_out(tx))
    return await stub.SubmitStakeTransaction(pb.SubmitStakeTransactionRequest(
        stake_id=stake_id, user_id=s.user_id, wallet=s.address, kind=kind, raw_transaction=raw))


async def stake_in(stub: pb_grpc.StakingServiceStub, stake_id: str, status: int, timeout: float = 20.0,
                   user_id: str = "") -> pb.Stake:
    """The stake once it reached `status` (the vault's events drive it there)."""
    async def reached() -> pb.Stake | None:
        st = (await stub.GetStake(pb.GetStakeRequest(stake_id=stake_id, user_id=user_id))).stake
        return st if st.status == status else None

    return await wait_until_async(reached, timeout, interval=0.05,
                                  message=f"stake {stake_id} did not reach {pb.StakeStatus.Name(status)}")


async def opened_stake(stub: pb_grpc.StakingServiceStub, chain: Chain, s: Staker, amount: str = "1",
                       days: int = 30) -> pb.Stake:
    """A funded staker's stake, opened on the vault and recorded ACTIVE."""
    opened = await stub.OpenStake(open_request(s, amount, days))
    assert opened.HasField("stake"), opened
    sent = await hand_in(stub, s, opened.stake.id, opened.stake.transaction)
    await chain.receipt(sent.tx_hash)
    return await stake_in(stub, opened.stake.id, pb.STAKE_STATUS_ACTIVE)
