"""(b) server half of the minimal reference pipeline: a bare grpc.aio server (no
interceptors, no health, no telemetry) answering AuthService.GetUser with one
primary-key SELECT through SQLAlchemy Core in a thread pool, autocommit.

Run: python bench/ref_service.py PORT DATABASE_URL
"""

from __future__ import annotations

import asyncio
import sys
from concurrent.futures import ThreadPoolExecutor

import grpc
import uvloop
from ipheron.auth.v1 import auth_service_pb2 as pb
from ipheron.auth.v1 import auth_service_pb2_grpc as pb_grpc
from ipheron_libs.db import sqlalchemy_url
from sqlalchemy import create_engine, text

SQL = text("SELECT id, wallet_address, username, email, reputation_score, region, skills, bio, verified, "
           "total_sales, total_assets_created, created_at, updated_at FROM auth.users WHERE id = :id")


class Bare(pb_grpc.AuthServiceServicer):
    def __init__(self, url: str) -> None:
        self.engine = create_engine(sqlalchemy_url(url), pool_size=8, isolation_level="AUTOCOMMIT")
        self.pool = ThreadPoolExecutor(8)

    def _get(self, user_id: str) -> pb.GetUserResponse:
        with self.engine.connect() as conn:
            row = conn.execute(SQL, {"id": user_id}).first()
        assert row is not None
        user = pb.User(id=str(row.id), wallet_address=row.wallet_address, username=row.username,
                       email=row.email or "", reputation_score=row.reputation_score, region=row.region,
                       skills=row.skills, bio=row.bio, verified=row.verified, total_sales=str(row.total_sales),
                       total_assets_created=row.total_assets_created)
        user.created_at.FromDatetime(row.created_at)
        user.updated_at.FromDatetime(row.updated_at)
        return pb.GetUserResponse(user=user)

    async def GetUser(self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext) -> pb.GetUserResponse:
        return await asyncio.get_running_loop().run_in_executor(self.pool, self._get, request.id)


async def main(port: int, url: str) -> None:
    server = grpc.aio.server()
    # Only GetUser is implemented: the bench calls nothing else.
    pb_grpc.add_AuthServiceServicer_to_server(Bare(url), server)  # type: ignore[abstract]
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    uvloop.run(main(int(sys.argv[1]), sys.argv[2]))
