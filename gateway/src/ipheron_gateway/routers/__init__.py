"""The API's area routers, listed explicitly (a new area is added here, nowhere else).

Each entry says where its router is mounted: under /api/v1, or at the root for a
router whose paths carry their own prefix (auth also serves /.well-known/jwks.json).
The order is the matching order.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from ipheron_gateway.routers import ai, analytics, asset_analysis, assets, auth, chain, dev, files, staking, users

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Area:
    """One area router and the prefix it is mounted under."""

    name: str
    router: APIRouter
    prefix: str = API_PREFIX
    # Not mounted when IPHERON_ENV=production (the routes do not exist there).
    development_only: bool = False


AREAS: tuple[Area, ...] = (
    Area("ai", ai.router),
    Area("analytics", analytics.router),
    Area("asset_analysis", asset_analysis.router),
    Area("assets", assets.router),
    Area("auth", auth.router, prefix=""),
    Area("chain", chain.router),
    Area("dev", dev.router, development_only=True),
    Area("files", files.router),
    Area("staking", staking.router),
    Area("users", users.router),
)
