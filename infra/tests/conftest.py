"""Session fixtures of the container tests (`make test-containers`, after `make images`): one Docker
network with PostgreSQL, Redis and the JSON-RPC chain node as containers, and fresh secrets."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from containers import DB_PASSWORD, Infra, docker, images_env, published_port, wait_for
from ipheron_libs.devsecrets import DevSecrets, fund, generate, json_rpc


@pytest.fixture(scope="session")
def images() -> dict[str, str]:
    return images_env()


@pytest.fixture(scope="session")
def infra(images: dict[str, str]) -> Iterator[Infra]:
    run = uuid.uuid4().hex[:8]
    network = f"ipheron-ct-{run}"
    docker("network", "create", network)
    infra = Infra(network=network, admin_url="", chain_rpc_host="")
    try:
        pg = f"ct-postgres-{run}"
        docker("run", "-d", "--name", pg, "--network", network, "--network-alias", "postgres",
               "-e", f"POSTGRES_PASSWORD={DB_PASSWORD}", "-e", "POSTGRES_USER=ipheron", "-e", "POSTGRES_DB=ipheron",
               "-p", "127.0.0.1::5432", images["POSTGRES_IMAGE"], "postgres")
        infra.containers.append(pg)
        redis = f"ct-redis-{run}"
        docker("run", "-d", "--name", redis, "--network", network, "--network-alias", "redis",
               images["REDIS_IMAGE"], "redis-server", "--appendonly", "no")
        infra.containers.append(redis)
        node = f"ct-chain-node-{run}"
        docker("run", "-d", "--name", node, "--network", network, "--network-alias", "chain-node",
               "-p", "127.0.0.1::8545", f"ipheron/devnode:{images['IMAGE_TAG']}")
        infra.containers.append(node)
        infra.admin_url = f"postgresql://ipheron:{DB_PASSWORD}@127.0.0.1:{published_port(pg, 5432)}/ipheron"
        infra.chain_rpc_host = f"http://127.0.0.1:{published_port(node, 8545)}"

        def pg_ready() -> bool:
            import psycopg

            with psycopg.connect(infra.admin_url, connect_timeout=3):
                return True

        wait_for(pg_ready, "PostgreSQL")
        wait_for(lambda: json_rpc(infra.chain_rpc_host, "eth_chainId", []) == hex(31337), "the chain node")
        yield infra
    finally:
        for name in infra.containers:
            docker("rm", "-f", "-v", name, check=False)
        docker("network", "rm", network, check=False)


@pytest.fixture(scope="session")
def secrets(tmp_path_factory: pytest.TempPathFactory, infra: Infra) -> DevSecrets:
    s = generate(Path(tmp_path_factory.mktemp("secrets")))
    fund(infra.chain_rpc_host, s.signer_address)
    return s


def pytest_report_header() -> str:
    return f"docker: {os.environ.get('DOCKER_HOST', 'unix:///var/run/docker.sock')}"
