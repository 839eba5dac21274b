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
from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as pb_grpc
from ipheron_libs import db, grpc_server

from ai_agents_service import synthetic
from ai_agents_service.collaboration import CollaborationAgent
from ai_agents_service.config import SCHEMA, Settings
from ai_agents_service.engine import RulePool
from ai_agents_service.market import MarketAgent
from ai_agents_service.market_data import MarketData
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.risk import RiskAgent
from ai_agents_service.server import FULL_NAME, MIGRATIONS_DIR, AgentsApp

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
    db.drop_schema(pg_admin_url, SCHEMA)
    url = db.provision(pg_admin_url, SCHEMA)
    db.migrate(url, SCHEMA, MIGRATIONS_DIR)
    return url


@pytest.fixture(scope="session")
async def app(ai_url: str) -> AsyncIterator[AgentsApp]:
    """The whole service (its own one-worker pool) on port 0, no event consumer, no peers."""
    settings = Settings(database_url=ai_url, workers=1, kb_reload=False, retrain_interval=0,
                        consume_events=False, auth_addr="127.0.0.1:1", analytics_addr="", call_timeout=0.5)
    agents = AgentsApp(settings, ai_url)
    server, port, health = grpc_server.build_server("ai-agents", agents.register, [FULL_NAME])
    await agents.on_start()
    await grpc_server.start(server, health)
    agents.port = port  # type: ignore[attr-defined]
    yield agents
    await grpc_server.stop(server, health, grace=1)
    await agents.on_stop()


@pytest.fixture(scope="session")
async def stub(app: AgentsApp) -> AsyncIterator[pb_grpc.AiAgentsServiceStub]:
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")  # type: ignore[attr-defined]
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
