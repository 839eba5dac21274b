"""Checks with the assets service that a stake's asset exists and is active.

Staking never reads the assets schema: it asks the AssetsService over gRPC, with a
deadline on every call. Without an address configured (tests of staking alone) no
check is made.
"""

from __future__ import annotations

import grpc
from ipheron.assets.v1 import assets_service_pb2, assets_service_pb2_grpc
from ipheron_libs.errors import FailedPrecondition, InvalidArgument, Unavailable
from ipheron_libs.grpc_client import channel

_STATUS_NAMES = {
    assets_service_pb2.ASSET_STATUS_PENDING: "pending",
    assets_service_pb2.ASSET_STATUS_PENDING_REVIEW: "pending_review",
    assets_service_pb2.ASSET_STATUS_ARCHIVED: "archived",
    assets_service_pb2.ASSET_STATUS_FAILED: "failed",
}


class AssetDirectory:
    """`require_stakeable(asset_id)`: InvalidArgument if unknown, FailedPrecondition if not active."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr, default_timeout=timeout)
        self.stub = assets_service_pb2_grpc.AssetsServiceStub(self.channel)
        self.timeout = timeout

    async def require_stakeable(self, asset_id: str) -> None:
        try:
            resp = await self.stub.GetAsset(assets_service_pb2.GetAssetRequest(asset_id=asset_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                raise InvalidArgument(f"asset {asset_id} does not exist", field="asset_id") from None
            raise Unavailable("the assets service is unavailable; the asset cannot be verified") from None
        status = resp.asset.status
        if status != assets_service_pb2.ASSET_STATUS_ACTIVE:
            name = _STATUS_NAMES.get(status, "not active")
            raise FailedPrecondition(f"asset {asset_id} is {name}; only active assets can be staked on")

    async def close(self) -> None:
        await self.channel.close()
