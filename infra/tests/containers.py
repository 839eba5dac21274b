"""Helpers of the container tests: the docker CLI and the images `make images` built (the secrets a
production container needs come from `ipheron_libs.devsecrets`, as in the compose stack).

Everything runs against the real Docker engine and the real images; PostgreSQL, Redis and the
JSON-RPC chain node are containers too (official images, or the stand-ins `make images` built where
no registry is reachable, as recorded in build/images.env).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IMAGES_ENV = ROOT / "build" / "images.env"
UID = 10001
DB_PASSWORD = "container-tests-db"  # the throwaway databases' password, nothing else uses it


def images_env() -> dict[str, str]:
    """IMAGE_TAG, POSTGRES_IMAGE, REDIS_IMAGE as `make images` recorded them."""
    if not IMAGES_ENV.exists():
        raise RuntimeError(f"{IMAGES_ENV} is missing: run 'make images' first")
    pairs = (line.split("=", 1) for line in IMAGES_ENV.read_text().splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; raises with its output when `check` and it fails."""
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])} … failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def published_port(container: str, port: int) -> int:
    """The host port (on 127.0.0.1) Docker published for the container's `port`."""
    out = docker("port", container, f"{port}/tcp").stdout.strip().splitlines()[0]
    return int(out.rsplit(":", 1)[1])


def logs(container: str) -> str:
    proc = docker("logs", container, check=False)
    return (proc.stdout + proc.stderr)[-6000:]


def health_status(container: str) -> str:
    """The HEALTHCHECK's verdict: starting, healthy or unhealthy ('' when the container is gone)."""
    proc = docker("inspect", "-f", "{{.State.Health.Status}}", container, check=False)
    return proc.stdout.strip()


def wait_healthy(container: str, timeout: float = 180) -> None:
    """Wait for the image's own HEALTHCHECK to say healthy; fail with the logs if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = docker("inspect", "-f", "{{.State.Running}}", container, check=False).stdout.strip()
        if running != "true":
            raise AssertionError(f"{container} exited:\n{logs(container)}")
        if health_status(container) == "healthy":
            return
        time.sleep(1)
    raise AssertionError(f"{container} not healthy after {timeout}s:\n{logs(container)}")


def wait_for(predicate: Callable[[], object], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last = exc
        time.sleep(0.5)
    raise TimeoutError(f"{what} not ready after {timeout}s ({last})")


@dataclass
class Infra:
    """The network and the neighbours every service container uses."""

    network: str
    admin_url: str  # from the host, through the published port
    chain_rpc_host: str  # the chain node from the host
    containers: list[str] = field(default_factory=list)

    def service_db_url(self, schema: str) -> str:
        """Provision the service's own role and schema; the URL as the containers reach PostgreSQL."""
        from ipheron_libs import db

        db.provision(self.admin_url, schema, password=DB_PASSWORD)
        return f"postgresql://{db.role_for(schema)}:{DB_PASSWORD}@postgres:5432/ipheron"
