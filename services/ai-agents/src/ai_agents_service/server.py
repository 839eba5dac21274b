"""Wires the ai-agents service: the MeTTa worker pool, the fact stores, the four
agents and the orchestrator, the ai_agents schema (migrated on start), the
retraining schedule, the knowledge-base reload and the event consumer."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import grpc
from ipheron.ai_agents.v1 import ai_agents_service_pb2, ai_agents_service_pb2_grpc
from ipheron_libs import db, embedded, events
from ipheron_libs.db import run_db
from ipheron_libs.errors import DomainError

from ai_agents_service import synthetic
from ai_agents_service.collaboration import CollaborationAgent
from ai_agents_service.config import SCHEMA, SERVICE_NAME, Settings
from ai_agents_service.directory import AnalyticsHistory, Directory
from ai_agents_service.domain import AssetInput, asset_type_of, decimal_of, region_of
from ai_agents_service.engine import RulePool
from ai_agents_service.kb import KB_DIR
from ai_agents_service.market import HOLDOUT_DAYS, WARMUP, MarketAgent
from ai_agents_service.market_data import MarketData, TradeFact
from ai_agents_service.orchestrator import Orchestrator
from ai_agents_service.pricing import PricingAgent
from ai_agents_service.repository import Repository
from ai_agents_service.risk import RiskAgent
from ai_agents_service.servicer import AiAgentsServicer

log = logging.getLogger("ai_agents_service")

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FULL_NAME = ai_agents_service_pb2.DESCRIPTOR.services_by_name["AiAgentsService"].full_name
CONSUMER_GROUP = "ai-agents"


def database_url(settings: Settings) -> str:
    """DATABASE_URL as given, else the embedded PostgreSQL under DATA_DIR with our own role."""
    return embedded.service_database_url(settings.database_url, settings.data_dir, SCHEMA)


class AgentsApp:
    """Everything the process runs besides the gRPC server itself."""

    def __init__(self, settings: Settings, url: str) -> None:
        self.settings = settings
        self.url = url
        self.engine = db.make_engine(url, SCHEMA, pool_size=4, max_overflow=4)
        self.repo = Repository(self.engine)
        self.pool = RulePool(settings.workers, settings.kb_dir or KB_DIR, settings.worker_call_timeout,
                             cache_size=settings.cache_size)
        self.market = MarketData()
        self.pricing = PricingAgent(self.pool, self.market)
        self.risk = RiskAgent(self.pool, self.market, self.pricing)
        self.collaboration = CollaborationAgent(self.pool)
        self.market_agent = MarketAgent(self.pool, self.market)
        self.orchestrator = Orchestrator(
            {
                "pricing": lambda asset, days: self.pricing.suggest(asset),
                "risk": lambda asset, days: self.risk.assess_asset(asset),
                "market": lambda asset, days: self.market_agent.forecast(asset.asset_type, days),
            },
            {"pricing": settings.pricing_timeout, "risk": settings.risk_timeout, "market": settings.market_timeout},
        )
        self.directory = Directory(settings.auth_addr, settings.call_timeout)
        self.analytics = AnalyticsHistory(settings.analytics_addr, settings.call_timeout) if settings.analytics_addr \
            else None
        self.servicer = AiAgentsServicer(self)
        self.consumer: events.Consumer | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    def register(self, server: grpc.aio.Server) -> None:
        ai_agents_service_pb2_grpc.add_AiAgentsServiceServicer_to_server(self.servicer, server)

    # -- facts and models

    def load_synthetic(self) -> None:
        """The synthetic market ending today: the history until analytics has its own."""
        market = synthetic.generate(self.settings.synthetic_seed, self.settings.history_days,
                                    end=datetime.now(UTC).date())
        if self.settings.env == "production":
            self.market.set_history(market.history_rows(), "synthetic")
        else:
            self.market.load_synthetic(market)

    async def refresh_history(self) -> str:
        """Use the analytics history when it covers enough days; keep the current one otherwise."""
        if self.analytics is None:
            return self.market.source
        try:
            rows = await self.analytics.rows(self.settings.history_days)
        except grpc.aio.AioRpcError as exc:
            log.info("analytics history unavailable (%s); market source stays %s", exc.code().name,
                     self.market.source)
            return self.market.source
        days = {r["date"] for r in rows}
        if len(days) >= WARMUP + HOLDOUT_DAYS + 14 and sum(int(r["sales"]) for r in rows) > 0:
            self.market.set_history(rows, "analytics")
        return self.market.source

    async def retrain(self) -> int:
        """Refresh history, train every type, store versions and validation errors."""
        await self.refresh_history()
        models = await asyncio.to_thread(self.market_agent.train)
        return await run_db(self.repo.record_models, models, self.market.source, HOLDOUT_DAYS)

    async def _retrain_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.retrain_interval)
            try:
                await self.retrain()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the previous models and try again later
                log.exception("market retraining failed; keeping the previous models")

    async def _refresh_history_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.history_refresh_interval)
            try:
                await self.refresh_history()
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the current history and try again later
                log.exception("market history refresh failed")

    # -- events

    async def handle_event(self, event: events.Event) -> None:
        """asset.created: analyse and remember the asset; asset.sold: remember the trade."""
        p = event.payload
        if event.type == "asset.created":
            asset_id = str(p.get("asset_id") or p.get("id") or "")
            try:
                asset = AssetInput(
                    asset_type=asset_type_of(str(p.get("asset_type", "other"))),
                    region=region_of(str(p.get("region") or "")), name=str(p.get("name", "")), asset_id=asset_id,
                    utility_features=tuple(p.get("utility_features") or ()),
                    co_creators=max(1, len(p.get("creators") or ())),
                    asking_price=decimal_of(str(p.get("price") or ""), "price"),
                    content_hash=str(p.get("ipfs_hash") or ""), creator_wallet=str(p.get("owner_wallet") or ""),
                )
            except DomainError as exc:
                log.warning("asset.created %s not analysed: %s", event.id, exc.message)
                return
            analysis = await self.orchestrator.analyze(asset)
            self.market.add_assets([(asset_id, asset.name, asset.content_hash)])
            pricing, risk, market = (analysis.results.get(k) for k in ("pricing", "risk", "market"))
            await run_db(self.repo.record_analysis, asset_id, event.id, datetime.now(UTC),
                         pricing.suggested if pricing else None, risk.score if risk else None,
                         market.sentiment if market else "",
                         [{"agent": f.agent, "reason": f.reason, "detail": f.detail} for f in analysis.failures],
                         CONSUMER_GROUP)
        elif event.type == "asset.sold":
            at = datetime.fromisoformat(event.occurred_at) if event.occurred_at else datetime.now(UTC)
            price = decimal_of(str(p.get("price") or "0"), "price") or Decimal(0)
            self.market.add_trades([TradeFact(str(p.get("asset_id", "")), str(p.get("seller_wallet") or "").lower(),
                                              str(p.get("buyer_wallet") or "").lower(), price, at)])

    async def metta_ready(self) -> bool:
        """Health entry "metta": at least one interpreter worker is up."""
        return bool(self.pool.worker_pids())

    # -- life cycle

    def migrate(self) -> None:
        db.migrate(self.url, SCHEMA, self.settings.migrations_dir or MIGRATIONS_DIR)

    async def on_start(self) -> None:
        await run_db(self.migrate)
        await self.pool.start()
        await asyncio.to_thread(self.load_synthetic)
        await self.retrain()
        loop = asyncio.get_running_loop()
        reload = self.settings.kb_reload if self.settings.kb_reload is not None else self.settings.env == "development"
        if reload:
            self._tasks.append(loop.create_task(self.pool.watch(self.settings.kb_reload_interval)))
        if self.settings.retrain_interval > 0:
            self._tasks.append(loop.create_task(self._retrain_forever()))
        if self.settings.history_refresh_interval > 0 and self.analytics is not None:
            self._tasks.append(loop.create_task(self._refresh_history_forever()))
        if self.settings.consume_events and self.settings.redis_url:
            self.consumer = events.Consumer(self.settings.redis_url, CONSUMER_GROUP, self.handle_event)
            self.consumer.start()

    async def on_stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.consumer is not None:
            await self.consumer.stop()
        await self.pool.close()
        await self.directory.close()
        if self.analytics is not None:
            await self.analytics.close()
        self.engine.dispose()


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT."""
    from ipheron_libs import grpc_server

    url = await run_db(database_url, settings)
    app = AgentsApp(settings, url)
    await grpc_server.serve(
        SERVICE_NAME, app.register, [FULL_NAME], host=settings.grpc_host, port=settings.grpc_port,
        on_start=app.on_start, on_stop=app.on_stop, dependency_checks={"metta": app.metta_ready},
    )
