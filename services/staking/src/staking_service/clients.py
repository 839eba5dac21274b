"""Outbound calls of the staking service: whether a stake's asset exists and is active.

Staking never reads the assets schema: it asks the AssetsService over gRPC, with a
deadline on every call, and reads a failure through `ipheron_libs.wire.classify_rpc_error`.
Without an address configured (tests of staking alone) no client is built.
"""

from __future__ import annotations

import grpc
from ipheron.assets.v1 import assets_service_pb2, assets_service_pb2_grpc
from ipheron_libs.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from ipheron_libs.grpc_client import channel
from ipheron_libs.wire import Transient, classify_rpc_error

_STATUS_NAMES = {
    assets_service_pb2.ASSET_STATUS_PENDING: "pending",
    assets_service_pb2.ASSET_STATUS_PENDING_REVIEW: "pending_review",
    assets_service_pb2.ASSET_STATUS_ARCHIVED: "archived",
    assets_service_pb2.ASSET_STATUS_FAILED: "failed",
}


class AssetsClient:
    """The AssetsService as staking uses it; every call has the `timeout` deadline."""

    def __init__(self, addr: str, timeout: float) -> None:
        self.channel = channel(addr, default_timeout=timeout)
        self.stub = assets_service_pb2_grpc.AssetsServiceStub(self.channel)
        self.timeout = timeout

    async def require_stakeable(self, asset_id: str) -> None:
        """InvalidArgument if the asset is unknown, FailedPrecondition if it is not active,
        Unavailable if the assets service cannot answer now (the stake may be retried)."""
        try:
            resp = await self.stub.GetAsset(assets_service_pb2.GetAssetRequest(asset_id=asset_id), timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            error = classify_rpc_error(exc, "assets")
            if isinstance(error, NotFound | InvalidArgument):
                raise InvalidArgument(f"asset {asset_id} does not exist", field="asset_id") from None
            if isinstance(error, Transient):
                raise Unavailable("the assets service is unavailable; the asset cannot be verified") from exc
            raise error from exc
        status = resp.asset.status
        if status != assets_service_pb2.ASSET_STATUS_ACTIVE:
            name = _STATUS_NAMES.get(status, "not active")
            raise FailedPrecondition(f"asset {asset_id} is {name}; only active assets can be staked on")

    async def close(self) -> None:
        """Close the channel (the service's stop does this)."""
        await self.channel.close()
