"""The one service skeleton over a real server, PostgreSQL and channel: migrations
run before serving, health turns SERVING only after start (with a "postgresql"
entry), periodic jobs survive their own failures, and stop drains, stops the
background work and closes clients in order."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from ipheron_libs import service
from ipheron_libs.grpc_client import channel
from ipheron_libs.service import ServiceApp
from ipheron_libs.settings import ServiceSettings
from ipheron_libs.testing import wait_until_async
from sqlalchemy import text

MIGRATIONS = Path(__file__).parent / "svcapp_migrations"
SERVICE = "test.v1.SkeletonService"


class _App(ServiceApp):
    name = "skeleton"
    schema = "libtest_skeleton"
    migrations = MIGRATIONS
    grpc_services = (SERVICE,)

    def __init__(self, settings: ServiceSettings, url: str) -> None:
        super().__init__(settings, url, redis_url="")
        self.events: list[str] = []
        self.ticks = 0
        self.every("tick", 0.01, self._tick)
        self.on_close(self._close_client)

    def register(self, server: grpc.aio.Server) -> None:
        async def ping(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
            def count() -> int:
                with self.engine.connect() as conn:
                    return int(conn.execute(text("SELECT count(*) FROM skeleton_rows")).scalar_one())

            from ipheron_libs.db import run_db

            return str(await run_db(count)).encode()

        handlers = {"Ping": grpc.unary_unary_rpc_method_handler(ping)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))

    async def _tick(self) -> None:
        self.ticks += 1
        if self.ticks == 2:
            raise RuntimeError("a transient job failure")

    async def prepare(self) -> None:
        self.events.append("prepare")

    async def cleanup(self) -> None:
        self.events.append("cleanup")

    async def _close_client(self) -> None:
        self.events.append("close")


async def test_service_app_migrates_serves_reports_health_and_stops_in_order(service_db_url) -> None:  # type: ignore[no-untyped-def]
    settings = ServiceSettings(grace_seconds=0.5)
    app = _App(settings, service_db_url("libtest_skeleton"))
    port = await app.start(port=0)
    ch = channel(f"127.0.0.1:{port}")
    try:
        # The migration ran before serving: the RPC reads the table it created.
        assert await ch.unary_unary(f"/{SERVICE}/Ping")(b"") == b"0"
        health = health_pb2_grpc.HealthStub(ch)
        for name in ("", SERVICE):
            reply = await health.Check(health_pb2.HealthCheckRequest(service=name))
            assert reply.status == health_pb2.HealthCheckResponse.SERVING

        async def postgresql_serving() -> bool:
            try:
                reply = await health.Check(health_pb2.HealthCheckRequest(service="postgresql"))
            except grpc.aio.AioRpcError:
                return False
            return reply.status == health_pb2.HealthCheckResponse.SERVING

        assert await wait_until_async(postgresql_serving, timeout=10)
        # The job failed on its second run and kept running.
        assert await wait_until_async(lambda: app.ticks >= 4, timeout=10)
    finally:
        await ch.close()
        await app.stop()
    assert app.events == ["prepare", "cleanup", "close"]
    ticks = app.ticks
    await asyncio.sleep(0.05)
    assert app.ticks == ticks, "periodic jobs stop with the service"


async def test_with_mutual_tls_the_app_refuses_plaintext_and_unlisted_rpcs_and_probes_use_the_health_port(
        service_db_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from ipheron_libs import grpc_client
    from ipheron_libs.mtls import TlsIdentity, generate_dev_pki

    pki = generate_dev_pki(tmp_path, ["skeleton", "gateway"])
    settings = ServiceSettings(grace_seconds=0.2, tls_dir=pki / "skeleton", health_port=0)
    app = _App(settings, service_db_url("libtest_skeleton"))
    try:
        port = await app.start(port=0)
        # Probes (kubelet, HEALTHCHECK) have no client certificate: the health-only port answers them.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.health_port}") as probe:
            reply = await health_pb2_grpc.HealthStub(probe).Check(health_pb2.HealthCheckRequest(service=""),
                                                                  timeout=10)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            # ...and serves nothing else.
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await probe.unary_unary(f"/{SERVICE}/Ping")(b"", timeout=5)
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as plain:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await plain.unary_unary(f"/{SERVICE}/Ping")(b"", timeout=5)
            assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        # A certified caller still gets nothing the allow-list does not name (default deny).
        async with channel(f"127.0.0.1:{port}", tls=TlsIdentity.load(pki / "gateway")) as ch:
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await ch.unary_unary(f"/{SERVICE}/Ping")(b"", timeout=5)
            assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await app.stop()
        grpc_client.use_identity(None)


async def test_a_stop_step_that_hangs_is_cut_short_and_the_rest_of_the_stop_still_runs(
        service_db_url, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    class _Stuck(_App):
        async def cleanup(self) -> None:
            self.events.append("cleanup")
            await asyncio.Event().wait()  # never ends

    monkeypatch.setattr(service, "STOP_STEP_S", 0.3)
    app = _Stuck(ServiceSettings(grace_seconds=0.1), service_db_url("libtest_skeleton"))
    await app.start(port=0)
    await asyncio.wait_for(app.stop(), timeout=10)
    assert app.events == ["prepare", "cleanup", "close"], "the clients were still closed"
    assert not app._started
    assert any("cleanup did not end" in r.getMessage() for r in caplog.records), caplog.text


class _Stop(Exception):
    pass


def _settings_that_stop() -> ServiceSettings:
    raise _Stop


def test_every_service_process_collects_garbage_less_often_and_not_its_imports() -> None:
    """`service.main` (every service's `python -m`) tunes the collector before anything else:
    the imports frozen out of its sight, generation 0 collected every 50,000 allocations."""
    import gc

    before = gc.get_threshold()
    assert before != service.GC_THRESHOLDS
    try:
        with pytest.raises(_Stop):
            service.main(_settings_that_stop, lambda *_: None, name="t", schema="t")  # type: ignore[arg-type]
        assert gc.get_threshold() == service.GC_THRESHOLDS and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
