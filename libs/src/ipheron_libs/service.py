"""The one service skeleton: every gRPC service starts through `ServiceApp`.

A service's `server.py` subclasses `ServiceApp` and only wires: it builds its
repository, `<Name>Service`, clients and servicer in `__init__`, registers the
servicer in `register`, and declares its background work with `every` (periodic
jobs), `consume` (domain-event consumers), `relay_outbox` and `on_close`.
The base owns the rest, in one order for everyone:

    start:  migrate (advisory-locked) → build the gRPC server (health NOT_SERVING)
            → prepare() → outbox relay, consumers, periodic jobs → serve
            → health SERVING → dependency health entries ("postgresql", ...)
    stop:   health NOT_SERVING → drain in-flight RPCs (grace) → stop background
            work → cleanup() → close clients → dispose the engine

`serve(app)` runs it until SIGTERM/SIGINT; `main(Settings, App)` is a service's
whole `__main__`. Tests start an app in-process with `await app.start()` on port 0
and `await app.stop()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import grpc
from grpc_health.v1 import health

from ipheron_libs import access, db, embedded, events, grpc_client, grpc_server, telemetry
from ipheron_libs.grpc_server import DependencyCheck, engine_check
from ipheron_libs.settings import InsecureSettingError, ServiceSettings
from ipheron_libs.tokens import JwksSource, JwksVerifier, grpc_jwks_source

log = logging.getLogger("ipheron.service")

Job = Callable[[], Awaitable[object]]
Closer = Callable[[], Awaitable[object]]
S = TypeVar("S", bound=ServiceSettings)
# How long one step of `ServiceApp.stop` may take (past the drain grace) before it is cut short.
STOP_STEP_S = 10.0


@dataclass(frozen=True)
class Periodic:
    """A background job run every `seconds` (first run after `delay`), surviving its own failures."""

    name: str
    seconds: float
    job: Job
    delay: float = 0.0


class ServiceApp(ABC):
    """Base of every service's wiring. Subclasses set `name`, `schema`, `migrations`
    and `grpc_services` (the full names that get their own health entries)."""

    name: ClassVar[str]
    schema: ClassVar[str]
    migrations: ClassVar[Path]
    grpc_services: ClassVar[tuple[str, ...]]
    # Whether the service uses Redis (events, cache); `main` starts the embedded one only then.
    needs_redis: ClassVar[bool] = True

    def __init__(self, settings: ServiceSettings, database_url: str, redis_url: str | None = None) -> None:
        self.settings = settings
        self.database_url = database_url
        self.redis_url = redis_url if redis_url is not None else settings.redis_url
        self.engine = db.make_engine(database_url, self.schema, pool_size=settings.db_pool_size,
                                     max_overflow=settings.db_max_overflow)
        # One DB thread per pooled connection: more threads would only wait for a connection.
        db.configure_db_threads(settings.db_pool_size + settings.db_max_overflow)
        # Mutual TLS when configured: this service's outbound channels dial under its certificate.
        self.tls = settings.tls_identity()
        if self.tls is not None:
            grpc_client.use_identity(self.tls)
        # Verifies the access tokens of the users the gateway's calls act for (started with mTLS).
        self.user_tokens: JwksVerifier | None = None
        self.server: grpc.aio.Server | None = None
        self.health_server: grpc.aio.Server | None = None
        self.health_port = 0
        self.health: health.aio.HealthServicer | None = None
        self.port = 0
        self._periodic: list[Periodic] = []
        self._consumers: list[events.Consumer] = []
        self._closers: list[Closer] = []
        self._relay: events.OutboxRelay | None = None
        self._relay_interval: float | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False

    # ------------------------------------------------------------ what subclasses declare

    @abstractmethod
    def register(self, server: grpc.aio.Server) -> None:
        """Add the service's servicer(s) to `server`."""

    def every(self, name: str, seconds: float, job: Job, *, delay: float = 0.0) -> None:
        """Run `job` every `seconds` while serving (off when `seconds` <= 0)."""
        if seconds > 0:
            self._periodic.append(Periodic(name, seconds, job, delay))

    def consume(self, group: str, handler: Callable[[events.Event], Awaitable[None]], **options: object) -> None:
        """Read the domain-event stream as consumer group `group` while serving (needs Redis)."""
        if not self.redis_url:
            log.warning("%s: no REDIS_URL, consumer group %s not started", self.name, group)
            return
        self._consumers.append(events.Consumer(self.redis_url, group, handler, **options))  # type: ignore[arg-type]

    def relay_outbox(self, interval: float = 0.2) -> None:
        """Relay this schema's outbox to the event stream while serving (needs Redis)."""
        if not self.redis_url:
            log.warning("%s: no REDIS_URL, outbox relay not started", self.name)
            return
        self._relay_interval = interval

    def on_close(self, closer: Closer) -> None:
        """Close a client (channel, pool, ...) when the service stops, in reverse order of declaration."""
        self._closers.append(closer)

    def dependency_checks(self) -> dict[str, DependencyCheck]:
        """Health entries besides the gRPC services; override to add e.g. "redis" or "chain"."""
        return {"postgresql": engine_check(self.engine)}

    async def prepare(self) -> None:
        """After migrations, before serving: e.g. warm a cache, finish what a crash left."""
        return None

    def jwks_source(self) -> JwksSource:
        """Where the verifier of users' access tokens gets the signing keys: the auth service's
        GetJwks, over mutual TLS (the auth service overrides this with its own key set)."""
        from ipheron.auth.v1 import auth_service_pb2_grpc

        addr = getattr(self.settings, "auth_addr", None)
        if not addr:
            raise InsecureSettingError(f"{self.name} acts for users and needs AUTH_ADDR to verify their tokens")
        chan = grpc_client.channel(addr)
        self.on_close(chan.close)
        return grpc_jwks_source(auth_service_pb2_grpc.AuthServiceStub(chan))

    async def cleanup(self) -> None:
        """After the server and background work stopped, before clients close."""
        return None

    # ------------------------------------------------------------ lifecycle (the base's)

    @property
    def relay(self) -> events.OutboxRelay | None:
        return self._relay

    async def migrate(self) -> None:
        """Upgrade this service's schema to head (one migrator at a time across replicas)."""
        migrations = getattr(self.settings, "migrations_dir", None) or self.migrations
        await db.run_db(db.migrate, self.database_url, self.schema, migrations)

    async def start(self, *, host: str | None = None, port: int | None = None) -> int:
        """Migrate, start background work, serve, then report SERVING; returns the bound port."""
        await self.migrate()
        if self.tls is not None and access.acts_for_users(self.name):
            self.user_tokens = JwksVerifier(self.jwks_source(), issuer=self.settings.jwt_issuer,
                                            audience=self.settings.jwt_audience)
            await self.user_tokens.start()  # tolerates an auth service that is not up yet
        self.server, self.port, self.health = grpc_server.build_server(
            self.name, self.register, self.grpc_services,
            host=host if host is not None else self.settings.grpc_host,
            port=port if port is not None else self.settings.grpc_port,
            tls=self.tls, reflection_enabled=self.settings.env == "development", user_tokens=self.user_tokens)
        await self.prepare()
        if self._relay_interval is not None and self.redis_url:
            self._relay = events.OutboxRelay(self.engine, self.schema, self.redis_url, interval=self._relay_interval)
            self._relay.start()
        for consumer in self._consumers:
            consumer.start()
        loop = asyncio.get_running_loop()
        for p in self._periodic:
            self._tasks.append(loop.create_task(self._run_periodic(p), name=f"{self.name}:{p.name}"))
        if self.settings.health_port is not None:
            self.health_server, self.health_port = grpc_server.build_health_server(
                self.health, host=host if host is not None else self.settings.grpc_host,
                port=self.settings.health_port)
            await self.health_server.start()
        await grpc_server.start(self.server, self.health, self.grpc_services)
        self._tasks.append(loop.create_task(grpc_server.watch_dependencies(self.health, self.dependency_checks())))
        self._started = True
        log.info("%s serving gRPC on port %d", self.name, self.port)
        return self.port

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING, drain, stop background work, close clients, dispose the engine.

        Every step is bounded (STOP_STEP_S past the grace): a step that hangs (a server's stop
        waiting on a connection that never closes) is logged by name and the rest still runs,
        so a stop always ends and the database engine is always disposed."""
        grace = self.settings.grace_seconds if grace is None else grace
        if self.server is not None and self.health is not None:
            await self._bounded("the gRPC server's stop", grpc_server.stop(self.server, self.health, grace),
                                grace + STOP_STEP_S)
        if self.health_server is not None:
            await self._bounded("the health port's stop", self.health_server.stop(0), STOP_STEP_S)
            self.health_server = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._bounded(f"the task {task.get_name()}", task, STOP_STEP_S)
        self._tasks.clear()
        for consumer in self._consumers:
            await self._bounded("an event consumer's stop", consumer.stop(), STOP_STEP_S)
        if self.user_tokens is not None:
            await self._bounded("the token verifier's stop", self.user_tokens.stop(), STOP_STEP_S)
            self.user_tokens = None
        if self._relay is not None:
            await self._bounded("the outbox relay's stop", self._relay.stop(), STOP_STEP_S)
        await self._bounded("cleanup", self.cleanup(), STOP_STEP_S)
        for closer in reversed(self._closers):
            try:
                await self._bounded("closing a client", closer(), STOP_STEP_S)
            except Exception:  # noqa: BLE001 - one failing close must not keep the rest open
                log.warning("%s: closing a client failed", self.name, exc_info=True)
        self.engine.dispose()
        self._started = False

    async def _bounded(self, what: str, step: Awaitable[Any], seconds: float) -> None:
        """Await `step` for at most `seconds`; past that it is cancelled and logged, and the stop goes on."""
        try:
            await asyncio.wait_for(step, timeout=seconds)
        except TimeoutError:
            log.warning("%s: %s did not end within %.1fs; cancelled, the stop goes on", self.name, what, seconds)

    async def _run_periodic(self, p: Periodic) -> None:
        if p.delay > 0:
            await asyncio.sleep(p.delay)
        while True:
            try:
                await p.job()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a periodic job retries on its next tick
                log.warning("%s: periodic job %s failed; retrying in %.0fs", self.name, p.name, p.seconds,
                            exc_info=True)
            await asyncio.sleep(p.seconds)


async def serve(app: ServiceApp, *, stop_signals: Sequence[signal.Signals] = (signal.SIGTERM, signal.SIGINT)) -> None:
    """Run `app` until SIGTERM/SIGINT, then stop it gracefully."""
    stop_event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in stop_signals:
        loop.add_signal_handler(sig, stop_event.set)
    try:
        await app.start()
        await stop_event.wait()
    finally:
        log.info("%s stopping", app.name)
        await app.stop()
        telemetry.shutdown()


# A request allocates tens of thousands of short-lived objects (protobuf messages, rows, pydantic
# models; the embedded EVM a few hundred thousand per purchase); at CPython's default threshold
# (700) the collector ran every few requests and each older-generation pass walked every
# long-lived object (the imported libraries, caches): 1-2.5 ms of the chain's ~20 ms per purchase.
# Garbage is freed by reference counting; cycles are still collected, only less often.
GC_THRESHOLDS = (50_000, 20, 20)


def tune_gc() -> None:
    """Move what the imports made out of the collector's sight and collect less often: every
    service process (and the gateway) calls it once its modules are imported."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def main(settings_cls: type[S], app_factory: Callable[[S, str, str | None], ServiceApp], *,
         name: str, schema: str) -> None:
    """A service's whole `python -m <svc>_service`: settings, telemetry, embedded
    fallbacks (PostgreSQL; Redis only for an app whose `needs_redis` is true, stopped
    again when the service exits), then `serve` on uvloop."""
    tune_gc()
    settings = settings_cls()
    telemetry.setup_service(name, settings)
    needs_redis = bool(getattr(app_factory, "needs_redis", True))

    async def run() -> None:
        url = await db.run_db(embedded.service_database_url, settings.database_url, settings.data_dir, schema)
        own_redis: embedded.EmbeddedRedis | None = None
        redis_url = settings.redis_url
        if not redis_url and needs_redis:
            own_redis = await db.run_db(embedded.start_redis, Path(settings.data_dir) / "redis")
            redis_url = own_redis.url
        try:
            await serve(app_factory(settings, url, redis_url))
        finally:
            if own_redis is not None:
                own_redis.stop()

    grpc_server.run(run)
