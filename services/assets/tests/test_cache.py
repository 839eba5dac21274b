"""The two-level cache: local LRU then Redis, invalidated on writes across replicas."""

from __future__ import annotations

from assets_service.domain import Asset
from conftest import create_request
from ipheron.assets.v1 import assets_service_pb2 as pb
from ipheron_libs.testing import wait_until_async
from prometheus_client import REGISTRY


def _count(name: str, cache: str) -> float:
    return REGISTRY.get_sample_value(name, {"cache": cache}) or 0.0


async def test_reads_hit_the_local_cache_then_redis_and_are_counted(start_replica, new_user, risk) -> None:
    alice = await new_user()
    a = await start_replica()
    b = await start_replica()
    asset = (await a.stub.CreateAsset(create_request([(alice, "100")], alice))).asset

    redis_miss = _count("cache_misses_total", "assets_redis")
    await a.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))  # database, then cached in Redis and locally
    assert _count("cache_misses_total", "assets_redis") == redis_miss + 1
    local_hits = _count("cache_hits_total", "assets_local")
    await a.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))
    assert _count("cache_hits_total", "assets_local") == local_hits + 1
    redis_hits = _count("cache_hits_total", "assets_redis")
    await b.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))  # the other replica finds it in Redis
    assert _count("cache_hits_total", "assets_redis") == redis_hits + 1


async def test_a_write_on_one_replica_invalidates_the_other_replicas_cache(start_replica, new_user, risk) -> None:
    alice = await new_user()
    a = await start_replica()
    b = await start_replica()
    asset = (await a.stub.CreateAsset(create_request([(alice, "100")], alice, price="1"))).asset
    for replica in (a, b, b):  # both replicas now hold it in their local LRU
        assert (await replica.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset.price.amount == "1"
    assert b.app.cache.local.get(asset.id) is not None

    await a.stub.UpdateAsset(pb.UpdateAssetRequest(actor=alice.actor, asset_id=asset.id, price="7",
                                                   update_mask={"paths": ["price"]}))
    # The pub/sub message reaches b asynchronously; wait (bounded) for its local copy to go.
    await wait_until_async(lambda: b.app.cache.local.get(asset.id) is None, 2.0,
                           message="replica b kept its local copy")
    assert b.app.cache.local.get(asset.id) is None
    assert (await b.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset.price.amount == "7"
    assert (await a.stub.GetAsset(pb.GetAssetRequest(asset_id=asset.id))).asset.price.amount == "7"


async def test_a_stale_read_cannot_refill_redis_after_an_invalidation(replica, new_user, risk) -> None:
    alice = await new_user()
    asset = (await replica.stub.CreateAsset(create_request([(alice, "100")], alice, price="1"))).asset
    cache = replica.app.cache
    old = await replica.app.service.get_asset(asset.id, fresh=True)

    async def slow_stale_load() -> Asset:
        await cache.invalidate(asset.id)  # a write lands while this reader is loading
        return old

    assert await cache.get(asset.id, slow_stale_load) == old
    assert await cache.redis.get("ipheron:assets:asset:" + asset.id) is None
    assert cache.local.get(asset.id) is None
