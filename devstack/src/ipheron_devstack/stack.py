"""Start and stop the whole system as separate processes on one machine.

Used by `make run` (fixed ports, data kept in ./.data) and by the end-to-end tests
(free ports, a temporary data folder). PostgreSQL and Redis are the embedded ones
unless DATABASE_URL / REDIS_URL name external servers; either way every service
gets its own role and schema, provisioned here with the admin URL.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
from grpc_health.v1 import health_pb2
from ipheron_libs import access, db, embedded
from ipheron_libs.devstack_ports import free_port
from ipheron_libs.mtls import TlsIdentity, generate_dev_pki

log = logging.getLogger("ipheron.devstack")


@dataclass(frozen=True)
class ServiceSpec:
    """How to run one service: its module, schema and env prefix."""

    name: str
    module: str
    schema: str
    prefix: str
    port: int


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("chain", "chain_service", "chain", "CHAIN", 50056),
    ServiceSpec("auth", "auth_service", "auth", "AUTH", 50051),
    ServiceSpec("ai-agents", "ai_agents_service", "ai_agents", "AI_AGENTS", 50055),
    ServiceSpec("analytics", "analytics_service", "analytics", "ANALYTICS", 50054),
    ServiceSpec("staking", "staking_service", "staking", "STAKING", 50053),
    ServiceSpec("assets", "assets_service", "assets", "ASSETS", 50052),
)
GATEWAY_PORT = 8000


@dataclass
class Stack:
    """The running system; `start()` brings everything up, `stop()` takes it down."""

    data_dir: Path
    ports: dict[str, int] = field(
        default_factory=lambda: {s.name: s.port for s in SERVICES} | {"gateway": GATEWAY_PORT}
    )
    # Each service's Prometheus /metrics (9051..9056 under `make run`, like 50051..50056).
    metrics_ports: dict[str, int] = field(default_factory=lambda: {s.name: s.port - 50051 + 9051 for s in SERVICES})
    extra_env: dict[str, str] = field(default_factory=dict)
    services: tuple[ServiceSpec, ...] = SERVICES
    log_dir: Path | None = None
    progress: Callable[[str], None] = lambda msg: None
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    pg: embedded.EmbeddedPostgres | None = None
    redis: embedded.EmbeddedRedis | None = None
    admin_url: str = ""
    redis_url: str = ""
    service_urls: dict[str, str] = field(default_factory=dict)
    # Mutual TLS between every process of the stack, as on a cluster: a development CA and one
    # certificate per identity under <data_dir>/tls/ (made by start_infra).
    tls: bool = True
    tls_dir: Path | None = None

    @classmethod
    def for_tests(cls, data_dir: Path, **kwargs: object) -> Stack:
        ports = {s.name: free_port() for s in SERVICES} | {"gateway": free_port()}
        metrics_ports = {s.name: free_port() for s in SERVICES}
        return cls(data_dir=data_dir, ports=ports, metrics_ports=metrics_ports, **kwargs)  # type: ignore[arg-type]

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    def addr(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    # -- infrastructure -------------------------------------------------
    def start_infra(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        external_db = os.environ.get("DATABASE_URL") or self.extra_env.get("DATABASE_URL")
        if external_db:
            self.admin_url = external_db
            self.progress("PostgreSQL: external (DATABASE_URL)")
        else:
            self.progress("PostgreSQL: starting embedded server in %s" % (self.data_dir / "pg"))
            self.pg = embedded.start_postgres(self.data_dir / "pg")
            self.admin_url = self.pg.admin_url
        external_redis = os.environ.get("REDIS_URL") or self.extra_env.get("REDIS_URL")
        if external_redis:
            self.redis_url = external_redis
            self.progress("Redis: external (REDIS_URL)")
        else:
            self.progress("Redis: starting embedded server in %s" % (self.data_dir / "redis"))
            self.redis = embedded.start_redis(self.data_dir / "redis")
            self.redis_url = self.redis.url
        for spec in self.services:
            self.service_urls[spec.name] = db.provision(self.admin_url, spec.schema)
        if self.tls:
            self.tls_dir = generate_dev_pki(self.data_dir / "tls", access.IDENTITIES).resolve()
            self.progress(f"mutual TLS: development CA and certificates in {self.tls_dir}")

    def channel(self, name: str, identity: str = access.OPERATOR) -> grpc.Channel:
        """A blocking channel to service `name`, presenting `identity`'s certificate (the operator's:
        what reconcile and the tests may call) when the stack runs mutual TLS."""
        if self.tls_dir is None:
            return grpc.insecure_channel(self.addr(name))
        return grpc.secure_channel(self.addr(name), TlsIdentity.load(self.tls_dir / identity).channel_credentials())

    # -- processes ----------------------------------------------------------
    def base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.pop("DATABASE_URL", None)
        env.update({
            "REDIS_URL": self.redis_url,
            "DATA_DIR": str(self.data_dir.resolve()),
            "PYTHONUNBUFFERED": "1",
        })
        for spec in SERVICES:
            env[f"{spec.prefix}_ADDR"] = self.addr(spec.name)
        env.update({k: v for k, v in self.extra_env.items() if k not in ("DATABASE_URL", "REDIS_URL")})
        return env

    def service_env(self, spec: ServiceSpec) -> dict[str, str]:
        env = self.base_env()
        env["DATABASE_URL"] = self.service_urls[spec.name]
        env[f"{spec.prefix}_GRPC_PORT"] = str(self.ports[spec.name])
        env[f"{spec.prefix}_GRPC_HOST"] = "127.0.0.1"
        if self.tls_dir is not None:  # an extra replica has its own name but its service's identity
            env["IPHERON_TLS_DIR"] = str(self.tls_dir / spec.module.removesuffix("_service").replace("_", "-"))
        if spec.name in self.metrics_ports:  # extra replicas choose their own
            env[f"{spec.prefix}_METRICS_PORT"] = str(self.metrics_ports[spec.name])
        return env

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        out: int | object = subprocess.DEVNULL
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        proc = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT,  # type: ignore[arg-type]
                                start_new_session=True)
        self.processes[name] = proc
        return proc

    def start_service(self, spec: ServiceSpec, env: dict[str, str] | None = None) -> None:
        """Start one service; `env` adds or overrides variables for this start only."""
        self._spawn(spec.name, [sys.executable, "-m", spec.module], {**self.service_env(spec), **(env or {})})

    def start_gateway(self) -> None:
        env = self.base_env()
        env["GATEWAY_PORT"] = str(self.ports["gateway"])
        env["GATEWAY_HOST"] = "127.0.0.1"
        if self.tls_dir is not None:
            env["IPHERON_TLS_DIR"] = str(self.tls_dir / access.GATEWAY)
        self._spawn("gateway", [sys.executable, "-m", "ipheron_gateway"], env)

    def wait_service(self, spec: ServiceSpec, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        with self.channel(spec.name) as ch:
            check = ch.unary_unary("/grpc.health.v1.Health/Check",
                                   request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
                                   response_deserializer=health_pb2.HealthCheckResponse.FromString)
            while time.monotonic() < deadline:
                proc = self.processes[spec.name]
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{spec.name} exited with code {proc.returncode} during start-up{self._log_hint(spec.name)}"
                    )
                try:
                    if (
                        check(health_pb2.HealthCheckRequest(), timeout=1).status
                        == health_pb2.HealthCheckResponse.SERVING
                    ):
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise TimeoutError(f"{spec.name} did not become healthy in {timeout:.0f}s{self._log_hint(spec.name)}")

    def wait_gateway_live(self, timeout: float = 60.0) -> None:
        """Wait until the gateway answers at all (for stacks running only some services)."""
        self.wait_gateway(timeout, path="/health/live")

    def wait_gateway(self, timeout: float = 60.0, path: str = "/health/ready") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.processes["gateway"]
            if proc.poll() is not None:
                raise RuntimeError(f"gateway exited with code {proc.returncode}{self._log_hint('gateway')}")
            try:
                if httpx.get(f"{self.gateway_url}{path}", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"gateway not ready in {timeout:.0f}s{self._log_hint('gateway')}")

    def _log_hint(self, name: str) -> str:
        return f"; see {self.log_dir / (name + '.log')}" if self.log_dir else ""

    def start(self) -> None:
        self.start_infra()
        # Start all at once (they retry their peers), then wait in dependency order.
        for spec in self.services:
            self.progress(f"{spec.name}: starting on :{self.ports[spec.name]}")
            self.start_service(spec)
        for spec in self.services:
            self.wait_service(spec)
            self.progress(f"{spec.name}: healthy")
        self.progress(f"gateway: starting on :{self.ports['gateway']}")
        self.start_gateway()
        self.wait_gateway()
        self.progress("gateway: ready")

    def spec(self, name: str) -> ServiceSpec:
        return next(s for s in self.services if s.name == name)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.processes[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(30)

    def restart(self, name: str, env: dict[str, str] | None = None) -> None:
        """Stop (SIGTERM) and start again, waiting until healthy; `env` as in start_service."""
        self.kill(name, signal.SIGTERM)
        if name == "gateway":
            self.start_gateway()
            self.wait_gateway()
        else:
            spec = self.spec(name)
            self.start_service(spec, env)
            self.wait_service(spec)

    def stop(self) -> None:
        for name, proc in reversed(list(self.processes.items())):
            if proc.poll() is None:
                self.progress(f"{name}: stopping")
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        if self.redis is not None:
            self.redis.stop()
        if self.pg is not None:
            self.pg.stop()
