"""Fixtures for the assets tests: real PostgreSQL and Redis (ipheron_libs.testing),
the real auth and chain services started in-process on port 0 (embedded EVM), a
scripted AiAgentsService on port 0 (so tests choose the risk outcome), and
assets-service replicas built exactly as production builds them."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import pytest
from assets_service.config import SCHEMA, Settings
from assets_service.server import MIGRATIONS, AssetsApp
from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai_pb
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as ai_grpc
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron.assets.v1 import assets_service_pb2_grpc as pb_grpc
from ipheron.auth.v1 import auth_service_pb2 as auth_pb
from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc
from ipheron.chain.v1 import chain_service_pb2 as chain_pb
from ipheron.chain.v1 import chain_service_pb2_grpc as chain_grpc
from ipheron_gateway.prepared import tx_out as tx_dict
from ipheron_libs import db
from ipheron_libs.testing import fresh_schema, wait_until_async
from ipheron_libs.wallet import Wallet
from sqlalchemy import text

CIDS = itertools.count(1)


def make_cid(n: int | None = None) -> str:
    """A valid CID v0 for distinct test content (sha2-256 multihash of a counter)."""
    import hashlib

    from assets_service.cid import _B58_ALPHABET

    digest = hashlib.sha256(f"content-{n if n is not None else next(CIDS)}-{uuid.uuid4()}".encode()).digest()
    raw = bytes([0x12, 0x20]) + digest
    num = int.from_bytes(raw, "big")
    out = ""
    while num:
        num, rem = divmod(num, 58)
        out = _B58_ALPHABET[rem] + out
    return out


# ------------------------------------------------------------------ scripted ai-agents


@dataclass
class RiskScript:
    """What the scripted ai-agents answers next; tests change it."""

    asset_score: int = 10
    asset_flags: list[str] = field(default_factory=list)
    purchase_score: int = 5
    asset_calls: int = 0
    purchase_calls: int = 0
    fail_asset: bool = False
    # The earlier sales (seller, buyer, price) the last AssessPurchaseRisk was given.
    purchase_history: list[tuple[str, str, str]] = field(default_factory=list)


class ScriptedAiAgents(ai_grpc.AiAgentsServiceServicer):
    """A real gRPC AiAgentsService whose risk answers the test decides."""

    def __init__(self, script: RiskScript) -> None:
        self.script = script

    @staticmethod
    def _assessment(score: int, flags: list[str]) -> ai_pb.RiskAssessment:
        level = (ai_pb.RISK_LEVEL_HIGH if score >= 70 else ai_pb.RISK_LEVEL_MEDIUM if score >= 40
                 else ai_pb.RISK_LEVEL_LOW)
        return ai_pb.RiskAssessment(score=score, level=level, flags=flags,
                                    explanation=f"scripted score {score}" if flags else "")

    async def AssessAssetRisk(self, request: ai_pb.AssessAssetRiskRequest,
                              context: grpc.aio.ServicerContext) -> ai_pb.AssessAssetRiskResponse:
        self.script.asset_calls += 1
        if self.script.fail_asset:
            await context.abort(grpc.StatusCode.UNAVAILABLE, "scripted outage")
        assessment = self._assessment(self.script.asset_score, self.script.asset_flags)
        return ai_pb.AssessAssetRiskResponse(assessment=assessment)

    async def SuggestPrice(self, request: ai_pb.SuggestPriceRequest,
                           context: grpc.aio.ServicerContext) -> ai_pb.SuggestPriceResponse:
        from ipheron.common.v1 import common_pb2

        def eth(v: str) -> common_pb2.Money:
            return common_pb2.Money(amount=v, currency="ETH")

        return ai_pb.SuggestPriceResponse(
            suggested=eth("2.000000"), low=eth("1.500000"), high=eth("2.500000"), market_source="synthetic",
            rules=[ai_pb.FiredRule(name="type-music", module="pricing", value="1.2", contribution="+0.300000",
                                   explanation=f"{request.asset.asset_type} sells well")])

    async def AssessPurchaseRisk(self, request: ai_pb.AssessPurchaseRiskRequest,
                                 context: grpc.aio.ServicerContext) -> ai_pb.AssessPurchaseRiskResponse:
        self.script.purchase_calls += 1
        self.script.purchase_history = [(t.seller_wallet, t.buyer_wallet, t.price) for t in request.history]
        flags = ["wash_trading"] if self.script.purchase_score >= 70 else []
        return ai_pb.AssessPurchaseRiskResponse(assessment=self._assessment(self.script.purchase_score, flags))


@pytest.fixture(scope="session")
async def ai_server() -> AsyncIterator[tuple[str, RiskScript]]:
    script = RiskScript()
    server = grpc.aio.server()
    ai_grpc.add_AiAgentsServiceServicer_to_server(ScriptedAiAgents(script), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    yield f"127.0.0.1:{port}", script
    await server.stop(0)


@pytest.fixture()
def risk(ai_server: tuple[str, RiskScript]) -> RiskScript:
    script = ai_server[1]
    script.asset_score, script.asset_flags, script.purchase_score, script.fail_asset = 10, [], 5, False
    script.purchase_history = []
    return script


# ------------------------------------------------------------------ real auth and chain


@pytest.fixture(scope="session")
async def auth_server(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    from auth_service.config import Settings as AuthSettings
    from auth_service.keys import KeyRing, SigningKey
    from auth_service.repository import SCHEMA as AUTH_SCHEMA
    from auth_service.server import MIGRATIONS_DIR, AuthApp

    url = fresh_schema(pg_admin_url, AUTH_SCHEMA, MIGRATIONS_DIR)
    settings = AuthSettings(siwe_domain="app.ipheron.test", siwe_uri="https://app.ipheron.test", siwe_chain_id=31337,
                            env="test", data_dir=tmp_path_factory.mktemp("auth"), redis_url=None, database_url=None,
                            chain_addr=None)
    app = AuthApp(settings, url, redis_url="", keyring=KeyRing([SigningKey.generate()]))
    port = await app.start(host="127.0.0.1", port=0)
    yield f"127.0.0.1:{port}"
    await app.stop(grace=0)


@pytest.fixture(scope="session")
async def chain_server(pg_admin_url: str, redis_url: str,
                       tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    from chain_service.config import ChainSettings
    from chain_service.repository import SCHEMA as CHAIN_SCHEMA
    from chain_service.server import ChainApp

    url = fresh_schema(pg_admin_url, CHAIN_SCHEMA)
    # Its indexer's events reach the assets replicas through the shared Redis stream: the
    # chain is the record of every sale.
    settings = ChainSettings(env="test", data_dir=tmp_path_factory.mktemp("chain"), database_url=url, journal=False,
                             indexer_interval_s=0.1, block_interval_ms=50)
    app = ChainApp(settings, url, redis_url=redis_url)
    port = await app.start(host="127.0.0.1", port=0)
    yield f"127.0.0.1:{port}"
    await app.stop(grace=0)


@pytest.fixture(scope="session")
async def auth_stub(auth_server: str) -> AsyncIterator[auth_grpc.AuthServiceStub]:
    channel = grpc.aio.insecure_channel(auth_server)
    yield auth_grpc.AuthServiceStub(channel)
    await channel.close()


@pytest.fixture(scope="session")
async def chain_stub(chain_server: str) -> AsyncIterator[chain_grpc.ChainServiceStub]:
    channel = grpc.aio.insecure_channel(chain_server)
    yield chain_grpc.ChainServiceStub(channel)
    await channel.close()


@dataclass(frozen=True)
class User:
    id: str
    wallet: str
    access_token: str = ""
    # The user's own key: signs listings and pays purchases, as a browser wallet would.
    key: Wallet | None = None

    @property
    def signer(self) -> Wallet:
        assert self.key is not None, "this user has no key"
        return self.key

    @property
    def actor(self) -> pb.Actor:
        return pb.Actor(user_id=self.id, wallet=self.wallet)


@pytest.fixture()
def new_user(auth_stub: auth_grpc.AuthServiceStub) -> Callable[[], Awaitable[User]]:
    """Register a fresh user in the real auth service by signing in with a new wallet (SIWE)."""

    async def make() -> User:
        key = Wallet.create()
        challenge = await auth_stub.CreateNonce(auth_pb.CreateNonceRequest(address=key.address.lower()))
        resp = await auth_stub.Login(auth_pb.LoginRequest(message=challenge.message,
                                                          signature=key.sign_siwe(challenge.message)))
        return User(resp.user.id, resp.user.wallet_address.lower(), resp.tokens.access_token, key)

    return make


# ------------------------------------------------------------------ assets service


@pytest.fixture(scope="session")
def assets_url(pg_admin_url: str) -> str:
    url = fresh_schema(pg_admin_url, SCHEMA, MIGRATIONS)
    return url


@pytest.fixture()
def clean_assets(assets_url: str) -> str:
    """Empty the assets tables between tests (other services keep their state; ids never collide)."""
    engine = db.make_engine(assets_url, SCHEMA, pool_size=1, max_overflow=0)
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE applied_chain_events, listings, sagas, provenance, asset_creators, asset_files, "
                          "files, assets, outbox CASCADE"))
    engine.dispose()
    return assets_url


@dataclass
class Replica:
    """One running assets-service replica (the production `AssetsApp`) and a client stub to it."""

    app: AssetsApp
    stub: pb_grpc.AssetsServiceStub
    channel: grpc.aio.Channel

    @property
    def runtime(self) -> AssetsApp:
        """The running app (older name, kept for the gateway tests)."""
        return self.app

    async def stop(self) -> None:
        await self.channel.close()
        await self.app.stop(grace=0)


@pytest.fixture()
async def start_replica(clean_assets: str, redis_url: str, auth_server: str, chain_server: str,
                        ai_server: tuple[str, RiskScript]) -> AsyncIterator[Callable[..., Awaitable[Replica]]]:
    """Factory: start an assets replica (production wiring, port 0); all are stopped at the end."""
    started: list[Replica] = []

    async def start(*, instance_id: str | None = None, start_worker: bool = False, **overrides: Any) -> Replica:
        values: dict[str, Any] = {
            "env": "test", "database_url": clean_assets, "redis_url": redis_url, "grpc_port": 0, "metrics_port": 0,
            "auth_addr": auth_server, "chain_addr": chain_server, "ai_agents_addr": ai_server[0],
            "instance_id": instance_id or f"test-{uuid.uuid4().hex[:8]}", "saga_worker": start_worker,
            "saga_poll_interval": 0.2, "ai_timeout": 2.0, "event_retry_idle_ms": 1000, "submitted_poll_s": 0.3,
            "submitted_poll_max_s": 1.0,
        }
        values.update(overrides)
        app = AssetsApp(Settings(**values), clean_assets, redis_url)
        port = await app.start(port=0)
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        replica = Replica(app, pb_grpc.AssetsServiceStub(channel), channel)
        started.append(replica)
        return replica

    yield start
    hung: list[AssertionError] = []
    for r in reversed(started):
        try:
            await _stop_or_explain(r)
        except AssertionError as exc:
            hung.append(exc)
        except Exception:  # noqa: BLE001,S110 - some were already stopped by the test
            pass
    if hung:
        raise hung[0]


async def _stop_or_explain(r: Replica) -> None:
    """Stop a replica; if that hangs, fail naming every pending task's stack (not a bare timeout)."""
    import asyncio
    import io

    try:
        await asyncio.wait_for(asyncio.shield(r.stop()), 30)
    except TimeoutError:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=out)
        Path("/tmp/assets-replica-stop-hang.txt").write_text(out.getvalue())
        raise AssertionError("stopping an assets replica hung; task stacks in /tmp/assets-replica-stop-hang.txt") \
            from None


@pytest.fixture()
async def replica(start_replica: Callable[..., Awaitable[Replica]]) -> Replica:
    return await start_replica()


def create_request(shares: list[tuple[User, str]], caller: User, **fields: Any) -> pb.CreateAssetRequest:
    values: dict[str, Any] = {
        "actor": caller.actor, "name": "Night Drive", "asset_type": pb.ASSET_TYPE_MUSIC, "price": "1.5",
        "royalty_rate": "10",
        "metadata_json": '{"description": "synthwave album", "genre": "electronic"}', "utility_features": ["stems"],
        "region": "EU", "ipfs_hash": make_cid(),
        "creators": [pb.CreatorShare(user_id=u.id, share_percent=s) for u, s in shares],
    }
    values.update(fields)
    return pb.CreateAssetRequest(**values)


async def rejected(call: Awaitable[Any]) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    return info.value


TEST_ROOT = Path(__file__).parent


# ------------------------------------------------------------------ money really moves

WEI = 10**18


async def fund(chain_stub: chain_grpc.ChainServiceStub, user: User, eth: int = 10) -> int:
    """Give a wallet native ETH on the embedded chain (development faucet); its new balance."""
    resp = await chain_stub.Faucet(chain_pb.FaucetRequest(address=user.wallet, amount_wei=str(eth * WEI)))
    return int(resp.balance_wei)


async def native_balance(chain_stub: chain_grpc.ChainServiceStub, wallet: str) -> int:
    resp = await chain_stub.GetBalance(chain_pb.GetBalanceRequest(address=wallet))
    return int(resp.native_balance_wei or 0)


async def pending_withdrawal(chain_stub: chain_grpc.ChainServiceStub, wallet: str) -> int:
    resp = await chain_stub.GetBalance(chain_pb.GetBalanceRequest(address=wallet))
    return int(resp.pending_withdrawal_wei or 0)


async def list_for_sale(stub: pb_grpc.AssetsServiceStub, owner: User, asset_id: str, price: str,
                        duration_seconds: int = 0) -> pb.PutListingResponse:
    """The owner lists the asset the way a browser does: fetch the typed data, sign it, put it."""
    typed = await stub.GetListingTypedData(pb.GetListingTypedDataRequest(
        actor=owner.actor, asset_id=asset_id, price=price, duration_seconds=duration_seconds))
    import orjson

    document = orjson.loads(typed.typed_data_json)
    signature = owner.signer.sign_typed_data(document)
    return await stub.PutListing(pb.PutListingRequest(actor=owner.actor, asset_id=asset_id,
                                                      order_json=orjson.dumps(document["message"]).decode(),
                                                      signature=signature))


async def pay(stub: pb_grpc.AssetsServiceStub, buyer: User, purchase: pb.Purchase) -> pb.Purchase:
    """The buyer's wallet signs the prepared transaction; it is handed in raw."""
    raw = buyer.signer.sign_transaction(tx_dict(purchase.transaction))
    return (await stub.SubmitPurchaseTransaction(pb.SubmitPurchaseTransactionRequest(
        actor=buyer.actor, purchase_id=purchase.id, raw_transaction=raw))).purchase


async def settled(stub: pb_grpc.AssetsServiceStub, purchase_id: str, timeout: float = 20.0) -> pb.Purchase:
    """The purchase once it is completed or failed (the chain's events drive it there)."""
    async def done() -> pb.Purchase | None:
        p = (await stub.GetPurchase(pb.GetPurchaseRequest(purchase_id=purchase_id))).purchase
        return p if p.state in (pb.PURCHASE_STATE_COMPLETED, pb.PURCHASE_STATE_FAILED) else None

    return await wait_until_async(done, timeout, interval=0.1, message=f"purchase {purchase_id} did not settle")


def count_rows(url: str, statement: str) -> int:
    """The single number a counting statement answers in the assets schema of `url`."""
    engine = db.make_engine(url, "assets", pool_size=1, max_overflow=0)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(statement)).scalar_one())
    finally:
        engine.dispose()
