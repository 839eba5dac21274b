"""Domain events into the agents' facts (consumer group "ai-agents" on ipheron:events).

- asset.created: the orchestrator analyses the new asset, the asset joins the known
  assets (duplicate detection), and the analysis is stored once per event
  (`Repository.record_analysis` uses `events.first_delivery` in its transaction).
- asset.sold: the sale joins the market's trade history (wash-trading and velocity
  rules) and the comparable sales (pricing), with the features remembered from the
  asset's asset.created (or stored with its analysis); the risk agent scores the
  recorded sale and stores its flags, and when the sale closes a wash cycle also
  flags the earlier sales of that cycle (`AiAgentsService.record_sales`, idempotent);
  the buyer becomes the owner of record of the stored analyses (who may re-run
  them). That history lives in memory, so duplicates of an event id delivered again
  (at-least-once) are recognised in memory too.
- asset.transferred: the receiving user becomes the owner of record (a transfer
  without a sale moves the right to re-run the analysis too). A sale's asset.transferred
  and asset.sold name the same owner in the same transaction: it is written once.

`ipheron_libs.events.Consumer` has already checked each event against its schema. A
payload the agents still cannot read raises `events.UnreadableEvent` (dead-lettered
with an alert, never silently acknowledged); any other error leaves the event
pending, so it is retried.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ipheron_libs import events
from ipheron_libs.db import run_db
from ipheron_libs.errors import DomainError
from ipheron_libs.vocab import DEFAULT_REPUTATION

from ai_agents_service.comparables import SaleRecord
from ai_agents_service.domain import AssetInput, asset_type_of, decimal_of, region_of
from ai_agents_service.market_data import AssetFeatures, MarketData, TradeFact

if TYPE_CHECKING:
    from ai_agents_service.service import AiAgentsService

log = logging.getLogger("ai_agents_service.consumer")

CONSUMER_GROUP = "ai-agents"
# Event ids of trades already in the in-memory history (bounded; the history is bounded too).
SEEN_TRADES = 100_000


def asset_of(event: events.Event) -> AssetInput:
    """The asset of an asset.created event as the agents see it; `UnreadableEvent` if it cannot be read."""
    p = event.payload
    try:
        return AssetInput(
            asset_type=asset_type_of(str(p.get("asset_type", "other"))),
            region=region_of(str(p.get("region") or "")), name=str(p.get("name", "")),
            asset_id=str(p.get("asset_id") or p.get("id") or ""),
            utility_features=tuple(str(f) for f in p.get("utility_features") or ()),
            co_creators=max(1, len(p.get("creators") or ())),
            asking_price=decimal_of(str(p.get("price") or ""), "price"),
            content_hash=str(p.get("ipfs_hash") or ""), creator_wallet=str(p.get("owner_wallet") or ""),
        )
    except DomainError as exc:
        raise _unreadable(event, exc.message) from exc


def trade_of(event: events.Event) -> TradeFact:
    """The sale of an asset.sold event as a trade fact; `UnreadableEvent` if it cannot be read."""
    p = event.payload
    try:
        price = decimal_of(str(p.get("price") or ""), "price", allow_empty=False)
        at = datetime.fromisoformat(event.occurred_at) if event.occurred_at else datetime.now(UTC)
    except DomainError as exc:
        raise _unreadable(event, exc.message) from exc
    except ValueError as exc:
        raise _unreadable(event, f"occurred_at: {exc}") from exc
    assert price is not None
    return TradeFact(str(p.get("asset_id", "")), str(p.get("seller_wallet") or "").lower(),
                     str(p.get("buyer_wallet") or "").lower(), price, at, str(p.get("purchase_id") or event.id))


def _unreadable(event: events.Event, why: str) -> events.UnreadableEvent:
    return events.UnreadableEvent(f"ai-agents cannot read {event.type} {event.id}: {why}", type_=event.type,
                                  version=event.version)


class EventHandler:
    """What the event consumer calls for each event (idempotent per event id)."""

    def __init__(self, service: AiAgentsService) -> None:
        self.service = service
        self.orchestrator = service.orchestrator
        self.market: MarketData = service.market
        self.repo = service.repo
        self._seen_trades: OrderedDict[str, None] = OrderedDict()
        # The owner write this handler made last, as (asset, owner, transaction): a sale's
        # asset.transferred and asset.sold describe one transaction and name the same owner.
        self._last_owner: tuple[str, str, str] | None = None

    # What `handle` applies; its consumer group reads only these types.
    EVENT_TYPES = frozenset({"asset.created", "asset.sold", "asset.transferred"})

    async def handle(self, event: events.Event) -> None:
        if event.type == "asset.created":
            await self.on_asset_created(event)
        elif event.type == "asset.sold":
            await self.on_asset_sold(event)
        elif event.type == "asset.transferred":
            await self.on_asset_transferred(event)

    async def on_asset_transferred(self, event: events.Event) -> None:
        """The receiving user is the owner of record now (idempotent: setting the same owner again)."""
        p = event.payload
        asset_id, to_user = str(p.get("asset_id") or ""), str(p.get("to_user_id") or "")
        if not asset_id:
            raise _unreadable(event, "asset_id is missing")
        if to_user:
            await self._set_owner(asset_id, to_user, str(p.get("tx_hash") or ""))

    async def _set_owner(self, asset_id: str, owner: str, tx_hash: str) -> None:
        """The owner of record, unless this handler's last write already said so for the same
        transaction (the other event of the same sale): writing it again changes nothing."""
        key = (asset_id, owner, tx_hash)
        if tx_hash and key == self._last_owner:
            return
        await run_db(self.repo.set_owner, asset_id, owner)
        self._last_owner = key

    async def on_asset_created(self, event: events.Event) -> None:
        """Analyse and remember the asset; the analysis is stored once per event."""
        asset = asset_of(event)
        if self._last_owner is not None and self._last_owner[0] == asset.asset_id:
            self._last_owner = None  # its stored analysis names its own owner
        analysis = await self.orchestrator.analyze(asset)
        self.market.add_assets([(asset.asset_id, asset.name, asset.content_hash)])
        self.market.remember_features(asset.asset_id, AssetFeatures(
            asset.region or "other", len(set(asset.utility_features)), asset.co_creators, asset.creator_reputation))
        stored = await self.service.store_analysis(asset, analysis, event_id=event.id,
                                                   owner_user_id=str(event.payload.get("owner_user_id") or ""),
                                                   consumer=CONSUMER_GROUP)
        if not stored:
            log.debug("asset.created %s was already analysed", event.id)

    async def on_asset_sold(self, event: events.Event) -> None:
        """Remember the trade and the comparable sale (once per event id); the buyer owns the asset now."""
        trade = trade_of(event)
        if event.id in self._seen_trades:
            return
        self.market.add_trades([trade])
        p = event.payload
        try:
            asset_type = asset_type_of(str(p.get("asset_type") or "other"))
        except DomainError as exc:
            raise _unreadable(event, exc.message) from exc
        known = self.market.features_of(trade.asset_id) or await self.service.stored_features(trade.asset_id)
        co_creators = max(1, len(p.get("creators") or ()))
        self.market.add_sales([SaleRecord(
            trade.asset_id, asset_type, trade.price, trade.at or datetime.now(UTC),
            known.region if known else "other", known.utility_count if known else 0, co_creators,
            known.creator_reputation if known else DEFAULT_REPUTATION, trade.sale_id)])
        # Stored before the owner and the seen mark: a failure leaves the event pending, and a
        # retry stores nothing twice.
        await self.service.record_sales([trade])
        buyer = str(p.get("buyer_user_id") or "")
        if buyer:
            await self._set_owner(trade.asset_id, buyer, str(p.get("tx_hash") or ""))
        self._seen_trades[event.id] = None
        if len(self._seen_trades) > SEEN_TRADES:
            self._seen_trades.popitem(last=False)
