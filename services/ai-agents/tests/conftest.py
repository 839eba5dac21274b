"""Fixtures for the ai-agents tests: one real MeTTa worker pool for the session, a
fixed synthetic market, and (for wire tests) the service on a real gRPC port with
its migrated schema on the real PostgreSQL from ipheron_libs.testing.

Every worker process is stopped at the end of the session (the pool's close)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

import grpc
import pytest
from ai_agents_service import synthetic
from ai_agents_service.collaboration import CollaborationAgent
from ai_agents_service.config import SCHEMA, Settings
from ai_agents_service.engine import RulePool
from ai_agents_service.market import MarketAgent
from ai_agents_service.market_data import MarketData
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.risk import RiskAgent
from ai_agents_service.server import MIGRATIONS_DIR, AiAgentsApp
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc
from ipheron_libs.testing import fresh_schema

END = date(2026, 10, 31)
REPORT: dict[str, str] = {}


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the numbers the issue asks to report (e.g. the forecast MAE ratio)."""
    if REPORT:
        terminalreporter.section("ai-agents report")
        for key, value in REPORT.items():
            terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def report() -> dict[str, str]:
    """Numbers printed in the terminal summary (see pytest_terminal_summary)."""
    return REPORT


@pytest.fixture(scope="session")
def market() -> synthetic.Market:
    return synthetic.generate(seed=7, days=120, end=END)


@pytest.fixture(scope="session")
def market_data(market: synthetic.Market) -> MarketData:
    data = MarketData()
    data.load_synthetic(market)
    return data


@pytest.fixture(scope="session")
async def pool() -> AsyncIterator[RulePool]:
    rule_pool = RulePool(size=2)
    await rule_pool.start()
    yield rule_pool
    await rule_pool.close()


@pytest.fixture(scope="session")
def pricing(pool: RulePool, market_data: MarketData) -> PricingAgent:
    return PricingAgent(pool, market_data)


@pytest.fixture(scope="session")
def risk(pool: RulePool, market_data: MarketData, pricing: PricingAgent) -> RiskAgent:
    return RiskAgent(pool, market_data, pricing)


@pytest.fixture(scope="session")
def collaboration(pool: RulePool) -> CollaborationAgent:
    return CollaborationAgent(pool)


@pytest.fixture(scope="session")
def market_agent(pool: RulePool, market_data: MarketData) -> MarketAgent:
    agent = MarketAgent(pool, market_data)
    agent.train()
    return agent


@pytest.fixture(scope="session")
def ai_url(pg_admin_url: str) -> str:
    url = fresh_schema(pg_admin_url, SCHEMA, MIGRATIONS_DIR)
    return url


@pytest.fixture(scope="session")
async def auth_server(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Any]:
    """The real auth service (users, skills, JWTs) on port 0; yields (address, app)."""
    from auth_service.config import Settings as AuthSettings
    from auth_service.keys import KeyRing, SigningKey
    from auth_service.repository import SCHEMA as AUTH_SCHEMA
    from auth_service.server import MIGRATIONS_DIR as AUTH_MIGRATIONS
    from auth_service.server import AuthApp

    url = fresh_schema(pg_admin_url, AUTH_SCHEMA, AUTH_MIGRATIONS)
    settings = AuthSettings(siwe_domain="app.ipheron.test", siwe_uri="https://app.ipheron.test", siwe_chain_id=31337,
                            env="test", data_dir=tmp_path_factory.mktemp("auth"), redis_url=None, database_url=None,
                            chain_addr=None)
    auth_app = AuthApp(settings, url, redis_url="", keyring=KeyRing([SigningKey.generate()]))
    port = await auth_app.start(host="127.0.0.1", port=0)
    yield f"127.0.0.1:{port}"
    await auth_app.stop(grace=0)


@pytest.fixture(scope="session")
async def creators(auth_server: str) -> dict[str, Any]:
    """Four creators signed in through SIWE with profiles: name -> (user id, access token)."""
    from eth_account import Account
    from eth_account.messages import encode_defunct
    from ipheron.auth.v1 import auth_service_pb2 as auth_pb
    from ipheron.auth.v1 import auth_service_pb2_grpc as auth_grpc

    profiles = {
        "anna": ("europe", ["illustration", "branding"]),
        "boris": ("europe", ["music-production", "mixing"]),
        "chen": ("asia", ["music-production"]),
        "dina": ("africa", ["writing"]),
    }
    out: dict[str, Any] = {}
    channel = grpc.aio.insecure_channel(auth_server)
    stub = auth_grpc.AuthServiceStub(channel)
    try:
        for name, (region, skills) in profiles.items():
            account = Account.create()
            challenge = await stub.CreateNonce(auth_pb.CreateNonceRequest(address=account.address.lower()))
            signature = account.sign_message(encode_defunct(text=challenge.message)).signature.hex()
            login = await stub.Login(auth_pb.LoginRequest(message=challenge.message,
                                                          signature="0x" + signature.removeprefix("0x")))
            await stub.UpdateProfile(auth_pb.UpdateProfileRequest(
                user_id=login.user.id, username=name, region=region, skills=auth_pb.SkillList(values=skills)))
            out[name] = (login.user.id, login.tokens.access_token)
    finally:
        await channel.close()
    return out


@pytest.fixture(scope="session")
async def app(ai_url: str, auth_server: str) -> AsyncIterator[AiAgentsApp]:
    """The whole service (its own one-worker pool) started through the service skeleton on
    port 0 with the real auth service; no consumer; its synthetic market ends on END, as the
    other fixtures' do, so what it trains on does not change with the day the suite runs."""
    settings = Settings(database_url=ai_url, workers=1, kb_reload=False, retrain_interval=0, synthetic_end=END,
                        consume_events=False, auth_addr=auth_server, analytics_addr="", call_timeout=2)
    agents = AiAgentsApp(settings, ai_url, redis_url="")
    await agents.start(host="127.0.0.1", port=0)
    yield agents
    await agents.stop(grace=1)


@pytest.fixture(scope="session")
async def stub(app: AiAgentsApp) -> AsyncIterator[pb_grpc.AiAgentsServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
    yield pb_grpc.AiAgentsServiceStub(channel)
    await channel.close()


@pytest.fixture()
def kb_copy(tmp_path: Any) -> Iterator[Any]:
    """A writable copy of the knowledge base, to break or edit."""
    import shutil

    from ai_agents_service.kb import KB_DIR

    target = tmp_path / "kb"
    shutil.copytree(KB_DIR, target)
    yield target
