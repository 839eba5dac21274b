"""AiAgentsService: the ai-agents use cases. The four agents (pricing, risk,
collaboration, market; each its own module over the MeTTa worker pool) and the
orchestrator answer requests; the service also keeps their facts current (the
synthetic bootstrap, the analytics history, retraining) and stores what it learns
through the repository (`run_db`, one transaction per call)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ipheron_libs.db import run_db
from ipheron_libs.errors import DomainError, InvalidArgument, NotFound, PermissionDenied
from ipheron_libs.vocab import ASSET_TYPES, DEFAULT_REPUTATION
from ipheron_libs.wire import from_timestamp

from ai_agents_service import synthetic
from ai_agents_service.clients import AnalyticsClient, Directory
from ai_agents_service.collaboration import CollaborationAgent, ContributorInput, Profile, RankedCandidate, ShareResult
from ai_agents_service.comparables import LOOKBACK_DAYS, SaleRecord
from ai_agents_service.config import Settings
from ai_agents_service.convert import analysis_document
from ai_agents_service.domain import AssetInput, RiskResult, SaleFlag, Trade, decimal_of, region_of
from ai_agents_service.engine import RulePool
from ai_agents_service.market import HOLDOUT_DAYS, WARMUP, MarketAgent, MarketForecast
from ai_agents_service.market_data import MAX_SALES_PER_TYPE, AssetFeatures, MarketData, TradeFact
from ai_agents_service.orchestrator import Analysis, Orchestrator
from ai_agents_service.pricing import PriceSuggestion, PricingAgent
from ai_agents_service.repository import Repository, StoredAnalysis
from ai_agents_service.risk import RING_WINDOW, RiskAgent

log = logging.getLogger("ai_agents_service")

# Analytics history replaces the current one once it covers this many days with sales.
MIN_HISTORY_DAYS = WARMUP + HOLDOUT_DAYS + 14
DEFAULT_COLLABORATORS = 10
MAX_RELOADED_TRADES = 200_000


def features_of(asset: AssetInput) -> AssetFeatures:
    """What comparable-sale similarity needs of an asset."""
    return AssetFeatures(asset.region or "other", len(set(asset.utility_features)), asset.co_creators,
                         asset.creator_reputation)


class AiAgentsService:
    """Pricing, risk, collaboration and market answers, and the facts behind them."""

    def __init__(self, settings: Settings, pool: RulePool, market: MarketData, repo: Repository,
                 directory: Directory, analytics: AnalyticsClient | None) -> None:
        self.settings = settings
        self.pool = pool
        self.market = market
        self.repo = repo
        self.directory = directory
        self.analytics = analytics
        self.pricing = PricingAgent(pool, market)
        self.sales_loaded = False
        self.risk = RiskAgent(pool, market, self.pricing)
        self.collaboration = CollaborationAgent(pool)
        self.market_agent = MarketAgent(pool, market)
        self.orchestrator = Orchestrator(
            {
                "pricing": lambda asset, days: self.pricing.suggest(asset),
                "risk": lambda asset, days: self.risk.assess_asset(asset),
                "market": lambda asset, days: self.market_agent.forecast(asset.asset_type, days),
            },
            {"pricing": settings.pricing_timeout, "risk": settings.risk_timeout, "market": settings.market_timeout},
        )

    # ------------------------------------------------------------ answers

    async def suggest_price(self, asset: AssetInput, currency: str = "") -> PriceSuggestion:
        return await self.pricing.suggest(asset, currency)

    async def find_collaborators(self, user_id: str, requester: Profile | None, candidates: Sequence[Profile],
                                 skills: Sequence[str], limit: int) -> list[RankedCandidate]:
        """Rank candidates for a requester; either may come from the caller or the auth directory."""
        if requester is None:
            if not user_id:
                raise InvalidArgument("user_id is required", field="user_id")
            requester = await self.directory.user(user_id)
        pool = list(candidates) if candidates else await self.directory.candidates(list(skills))
        return await self.collaboration.rank(requester, pool, list(skills), limit or DEFAULT_COLLABORATORS)

    async def propose_split(self, contributors: Sequence[ContributorInput]) -> list[ShareResult]:
        return await self.collaboration.split(contributors)

    async def assess_asset_risk(self, asset: AssetInput, known: Sequence[AssetInput] = ()) -> RiskResult:
        return await self.risk.assess_asset(asset, known)

    async def assess_purchase_risk(self, purchase: Trade, history: Sequence[Trade] = ()) -> RiskResult:
        return await self.risk.assess_purchase(purchase, history)

    async def record_sales(self, sales: Sequence[TradeFact]) -> list[SaleFlag]:
        """Decide and store the risk flags of recorded sales (already in the trade log): each
        sale's own, and the earlier sales a sale reveals as part of its wash cycle; the sales
        are stored with them (`ai_agents.trades`). Idempotent: recording the same sales again
        stores nothing new. Returns the newly stored flags."""
        assessed = await self.risk.assess_sales(sales)
        flags = [f for a in assessed for f in (*a.flags, *a.retroactive)]
        # The sales too, so that a restart still knows the trades a ring is made of.
        stored = await run_db(self.repo.record_sales, sales, flags)
        for f in stored:
            if f.retroactive:
                log.info("sale %s of asset %s flagged %s later, revealed by sale %s", f.sale_id, f.asset_id, f.rule,
                         f.revealed_by)
        return stored

    async def sale_flags(self, asset_id: str) -> list[SaleFlag]:
        """The risk flags stored on an asset's recorded sales (at recording or later)."""
        return await run_db(self.repo.sale_flags_of, asset_id)

    async def forecast_market(self, asset_type: str, days: int) -> MarketForecast:
        return await self.market_agent.forecast(asset_type, days)

    async def analyze(self, asset: AssetInput, days: int) -> Analysis:
        return await self.orchestrator.analyze(asset, days)

    async def store_analysis(self, asset: AssetInput, analysis: Analysis, *, event_id: str = "",
                             owner_user_id: str = "", trigger: str = "asset.created",
                             consumer: str | None = None) -> bool:
        """Store an analysis of a registered asset (once per event with `consumer`)."""
        pricing, risk, market = analysis.pricing, analysis.risk, analysis.market
        failures = [{"agent": f.agent, "reason": f.reason, "detail": f.detail} for f in analysis.failures]
        return await run_db(self.repo.record_analysis, asset.asset_id, event_id, datetime.now(UTC),
                            pricing.suggested if pricing else None, risk.score if risk else None,
                            market.sentiment if market else "", failures, consumer,
                            detail=analysis_document(analysis), asset=asset, owner_user_id=owner_user_id,
                            trigger=trigger)

    async def asset_analysis(self, asset_id: str) -> tuple[StoredAnalysis, int]:
        """The newest stored analysis of an asset and the number of runs; NotFound when none."""
        stored, runs = await run_db(self.repo.latest_analysis, asset_id)
        if stored is None:
            raise NotFound(f"no analysis of asset {asset_id} (the agents analyse assets when they are created)",
                           field="asset_id")
        return stored, runs

    async def reanalyze(self, asset_id: str, requester_user_id: str, days: int = 7) -> StoredAnalysis:
        """Run the orchestrator again on an asset for its owner of record, and store the run."""
        stored, _ = await self.asset_analysis(asset_id)
        if not requester_user_id or requester_user_id != stored.owner_user_id or stored.asset is None:
            raise PermissionDenied("only the asset's owner may re-run its analysis")
        analysis = await self.orchestrator.analyze(stored.asset, days)
        await self.store_analysis(stored.asset, analysis, owner_user_id=stored.owner_user_id, trigger="owner")
        fresh, _ = await self.asset_analysis(asset_id)
        return fresh

    def metta_ready(self) -> bool:
        """At least one interpreter worker is up."""
        return bool(self.pool.worker_pids())

    # ------------------------------------------------------------ facts and models

    async def warm_up(self) -> None:
        """Before serving: the synthetic market, the recorded sales (comparables from analytics,
        the trade log from our own table), then models trained on the best history."""
        await asyncio.to_thread(self.load_synthetic)
        await self.load_sales()
        await self.load_trades()
        await self.retrain()

    async def load_trades(self) -> int:
        """The trade log of the wash-trading and velocity rules back from `ai_agents.trades`:
        the sales recorded in the rules' longest look-back window (14 days), at most
        MAX_RELOADED_TRADES. Returns how many."""
        trades = await run_db(self.repo.recent_trades, datetime.now(UTC) - RING_WINDOW, MAX_RELOADED_TRADES)
        self.market.add_trades(trades)
        if trades:
            log.info("trade log: %d recorded sales of the last %d days reloaded", len(trades), RING_WINDOW.days)
        return len(trades)

    def load_synthetic(self) -> None:
        """The synthetic market ending today (or on `synthetic_end`): the history until analytics
        has its own (and, outside production, its sales as comparables and trades)."""
        market = synthetic.generate(self.settings.synthetic_seed, self.settings.history_days,
                                    end=self.settings.synthetic_end or datetime.now(UTC).date())
        sales = self.settings.synthetic_sales
        if sales is False or (sales is None and self.settings.env == "production"):
            self.market.set_history(market.history_rows(), "synthetic")
        else:
            self.market.load_synthetic(market)

    async def stored_features(self, asset_id: str) -> AssetFeatures | None:
        """A sold asset's features from its stored analysis (after a restart the memory is empty)."""
        stored = await run_db(self.repo.features_of, [asset_id])
        return features_of(stored[asset_id]) if asset_id in stored else None

    async def load_sales(self) -> int:
        """The comparable sales from the market of record: every type's recorded sales of the
        last LOOKBACK_DAYS from the analytics service (ListSales), newest first, at most
        MAX_SALES_PER_TYPE per type, with the features stored with each asset's analysis
        (else analytics' region and creator count). Sales already held (same sale id) are
        skipped. Returns how many were new; `sales_loaded` says whether every type answered."""
        if self.analytics is None:
            return 0
        since = datetime.now(UTC) - timedelta(days=LOOKBACK_DAYS)
        added = 0
        try:
            for asset_type in ASSET_TYPES:
                listed = await self.analytics.sales(asset_type, since, MAX_SALES_PER_TYPE)
                if not listed:
                    continue
                stored = await run_db(self.repo.features_of, [x.sale.asset_id for x in listed])
                records = []
                for x in reversed(listed):  # oldest first: the bounded log keeps the newest
                    price = decimal_of(x.sale.price, "price", allow_empty=False)
                    assert price is not None
                    known = (features_of(stored[x.sale.asset_id]) if x.sale.asset_id in stored
                             else self.market.features_of(x.sale.asset_id))
                    records.append(SaleRecord(
                        x.sale.asset_id, asset_type, price, from_timestamp(x.sale.occurred_at) or datetime.now(UTC),
                        known.region if known else region_of(x.region),
                        known.utility_count if known else 0,
                        known.co_creators if known else max(1, x.creators),
                        known.creator_reputation if known else DEFAULT_REPUTATION, x.sale.sale_id))
                added += self.market.add_sales(records)
        except DomainError as exc:
            log.warning("recorded sales unavailable from analytics (%s); %d loaded, retried at the next refresh",
                        exc.message, added)
            return added
        self.sales_loaded = True
        log.info("comparable sales: %d loaded from analytics", added)
        return added

    async def refresh_history(self) -> str:
        """Use the analytics history when it covers enough days; keep the current one otherwise.
        Recorded sales that could not be loaded at start are tried again here."""
        if self.analytics is None:
            return self.market.source
        if not self.sales_loaded:
            await self.load_sales()
        try:
            points = await self.analytics.history(self.settings.history_days)
        except DomainError as exc:
            log.info("analytics history unavailable (%s); market source stays %s", exc.message, self.market.source)
            return self.market.source
        days = {p.date for p in points}
        if len(days) >= MIN_HISTORY_DAYS and sum(p.sales for p in points) > 0:
            self.market.set_history(points, "analytics")
        return self.market.source

    async def retrain(self) -> int:
        """Refresh history, train every type, store versions and validation errors."""
        await self.refresh_history()
        models = await asyncio.to_thread(self.market_agent.train)
        return await run_db(self.repo.record_models, models, self.market.source, HOLDOUT_DAYS)
