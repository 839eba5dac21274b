"""(b) HTTP half of the minimal reference pipeline: a bare FastAPI endpoint calling
the bare gRPC server once per request and returning the user as JSON.

Run: REF_GRPC_ADDR=127.0.0.1:PORT uvicorn bench.ref_http:app
"""

from __future__ import annotations

import os

import grpc
from fastapi import FastAPI
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2_grpc as pb_grpc

app = FastAPI()
_stub: pb_grpc.AuthServiceAsyncStub | None = None


def stub() -> pb_grpc.AuthServiceAsyncStub:
    global _stub
    if _stub is None:
        _stub = pb_grpc.AuthServiceStub(grpc.aio.insecure_channel(os.environ["REF_GRPC_ADDR"]))
    return _stub


@app.get("/users/{user_id}")
async def get_user(user_id: str) -> dict[str, object]:
    u = (await stub().GetUser(pb.GetUserRequest(id=user_id), timeout=5)).user
    return {"id": u.id, "wallet_address": u.wallet_address, "username": u.username, "email": u.email or None,
            "reputation_score": u.reputation_score, "region": u.region, "skills": list(u.skills), "bio": u.bio,
            "verified": u.verified, "total_sales": u.total_sales, "total_assets_created": u.total_assets_created,
            "created_at": u.created_at.ToDatetime().isoformat() + "Z",
            "updated_at": u.updated_at.ToDatetime().isoformat() + "Z"}
