"""The gateway's catalog cache stays correct across replicas: an edit on any assets replica
drops the gateway's cached pages and that asset's detail (through the assets service's
invalidation channel on a real Redis), and a page loaded before an edit is never stored."""

from __future__ import annotations

import redis.asyncio as aioredis
from conftest import create_request
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron_gateway.catalog_cache import CatalogCache
from ipheron_libs.testing import wait_until_async


async def _listening(redis_url: str) -> tuple[CatalogCache, aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    cache = CatalogCache(client)
    cache.page("warm-up")  # starts the listener

    async def ready() -> bool:
        return cache.listening

    await wait_until_async(ready, 5, message="catalog cache subscribed")
    return cache, client


async def test_an_edit_on_another_replica_drops_cached_pages_and_that_detail(start_replica, new_user, risk,
                                                                              redis_url: str) -> None:
    alice = await new_user()
    a, b = await start_replica(), await start_replica()
    asset = (await a.stub.CreateAsset(create_request([(alice, "100")], alice, price="1"))).asset
    cache, client = await _listening(redis_url)
    try:
        generation = cache.generation
        cache.put_page(("music", "price"), b'{"items": []}', generation)
        cache.put_detail(asset.id, b'{"price": "1"}', generation)
        cache.put_detail("an-untouched-asset", b'{"price": "2"}', generation)
        assert cache.page(("music", "price")) is not None and cache.detail(asset.id) is not None

        await b.stub.UpdateAsset(pb.UpdateAssetRequest(  # on the other replica
            actor=alice.actor, asset_id=asset.id, price="3", update_mask={"paths": ["price"]}))

        async def dropped() -> bool:
            return cache.page(("music", "price")) is None and cache.detail(asset.id) is None

        await wait_until_async(dropped, 5, message="invalidation reached the gateway cache")
        assert cache.detail("an-untouched-asset") == b'{"price": "2"}'  # another asset's detail stays
    finally:
        await cache.close()
        await client.aclose()


async def test_a_page_loaded_before_an_invalidation_is_not_stored(redis_url: str) -> None:
    cache, client = await _listening(redis_url)
    try:
        generation = cache.generation  # a load starts...
        await client.publish("ipheron:assets:invalidate", "some-asset")  # ...an asset changes meanwhile...

        async def seen() -> bool:
            return cache.generation != generation

        await wait_until_async(seen, 5, message="invalidation seen")
        cache.put_page("key", b"stale", generation)  # ...the load finishes: not stored
        assert cache.page("key") is None
        cache.put_page("key", b"fresh", cache.generation)
        assert cache.page("key") == b"fresh"
    finally:
        await cache.close()
        await client.aclose()


async def test_nothing_is_cached_until_the_channel_is_subscribed(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    cache = CatalogCache(client)
    try:
        cache.put_page("key", b"body", cache.generation)  # not listening yet: a missed message could go unseen
        assert cache.page("key") is None
    finally:
        await cache.close()
        await client.aclose()
