"""Each deployable's image, started on its own against PostgreSQL, Redis (and, for the chain service,
a JSON-RPC node) in production mode: the HEALTHCHECK turns healthy (gRPC health on the health-only
port, HTTP for the gateway), one real call answers over mutual TLS, the process runs as the
non-root uid on a read-only root filesystem, SIGTERM stops it within its grace period, and it refuses
to start with a development default in place of a secret."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc
import pytest
from chain_service.config import DEV_SIGNER_KEY
from containers import UID, Infra, docker, logs, published_port, wait_healthy
from ipheron_libs.devkeys import DEV_QUOTE_SIGNER_KEY
from ipheron_libs.devsecrets import DevSecrets as Secrets
from ipheron_libs.mtls import TlsIdentity

GRACE_S = 15  # the chart's terminationGracePeriodSeconds; `docker stop -t` kills after it


@dataclass(frozen=True)
class Deployable:
    name: str
    port: int
    schema: str | None  # None: holds no data (the gateway)
    # Extra environment of a healthy production start, from the fixtures.
    env: Callable[[Infra, Secrets], dict[str, str]] = lambda infra, secrets: {}
    # The environment of a start with a development default in place of a secret, and the words
    # of the refusal.
    insecure: Callable[[Infra, Secrets], dict[str, str]] = lambda infra, secrets: {}
    refusal: str = ""
    mounts: Callable[[Secrets], list[str]] = lambda secrets: []


def _jwt_mount(secrets: Secrets) -> list[str]:
    return ["-v", f"{secrets.jwt_file.parent}:/etc/ipheron/jwt:ro"]


AUTH_ENV = {"AUTH_JWT_PRIVATE_KEYS_FILE": "/etc/ipheron/jwt/jwt-private-keys.pem",
            "AUTH_SIWE_DOMAIN": "ipheron.test", "AUTH_SIWE_URI": "https://ipheron.test", "AUTH_SIWE_CHAIN_ID": "31337"}


def _chain_env(infra: Infra, secrets: Secrets) -> dict[str, str]:
    return {"WEB3_PROVIDER_URI": "http://chain-node:8545", "CHAIN_SIGNER_KEY": secrets.signer_key,
            "CHAIN_VAULT_QUOTE_SIGNER": secrets.quote_address, "CHAIN_TIMELOCK_DELAY_S": "1"}


DEPLOYABLES = {
    "auth": Deployable("auth", 50051, "auth", env=lambda i, s: AUTH_ENV, mounts=_jwt_mount,
                       insecure=lambda i, s: {k: v for k, v in AUTH_ENV.items() if "JWT" not in k},
                       refusal="AUTH_JWT_PRIVATE_KEYS or AUTH_JWT_PRIVATE_KEYS_FILE is required in production"),
    "assets": Deployable("assets", 50052, "assets", insecure=lambda i, s: {"IPHERON_TLS_DIR": "/nonexistent"},
                         refusal="lacks tls.crt"),
    "staking": Deployable("staking", 50053, "staking", env=lambda i, s: {"STAKING_QUOTE_SIGNER_KEY": s.quote_key},
                          insecure=lambda i, s: {"STAKING_QUOTE_SIGNER_KEY": DEV_QUOTE_SIGNER_KEY},
                          refusal="STAKING_QUOTE_SIGNER_KEY"),
    "analytics": Deployable("analytics", 50054, "analytics", insecure=lambda i, s: {"IPHERON_TLS_DIR": "/nonexistent"},
                            refusal="lacks tls.crt"),
    "ai-agents": Deployable("ai-agents", 50055, "ai_agents", env=lambda i, s: {"AI_AGENTS_WORKERS": "1"},
                            insecure=lambda i, s: {"IPHERON_TLS_DIR": "/nonexistent"}, refusal="lacks tls.crt"),
    "chain": Deployable("chain", 50056, "chain", env=_chain_env,
                        insecure=lambda i, s: {**_chain_env(i, s), "CHAIN_SIGNER_KEY": DEV_SIGNER_KEY},
                        refusal="CHAIN_SIGNER_KEY must be set to a real key"),
    "gateway": Deployable("gateway", 8000, None, insecure=lambda i, s: {"REDIS_URL": ""},
                          refusal="REDIS_URL is required when IPHERON_ENV=production"),
}


def _run_args(d: Deployable, infra: Infra, secrets: Secrets, name: str, env: dict[str, str]) -> list[str]:
    args = ["run", "-d", "--name", name, "--network", infra.network, "--network-alias", d.name,
            "--read-only", "--tmpfs", "/tmp:rw,size=256m", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-v", f"{secrets.tls / d.name}:/etc/ipheron/tls:ro", *d.mounts(secrets),
            "-p", f"127.0.0.1::{d.port}", "-e", "REDIS_URL=redis://redis:6379/0", "-e", "LOG_LEVEL=INFO"]
    if d.schema is not None:
        args += ["-e", f"DATABASE_URL={infra.service_db_url(d.schema)}"]
    for k, v in env.items():
        args += ["-e", f"{k}={v}"]
    return args


@pytest.fixture(scope="module", params=list(DEPLOYABLES))
def started(request: pytest.FixtureRequest, infra: Infra, secrets: Secrets,
            images: dict[str, str]) -> Iterator[tuple[Deployable, str]]:
    d = DEPLOYABLES[request.param]
    name = f"ct-{d.name}-{uuid.uuid4().hex[:6]}"
    docker(*_run_args(d, infra, secrets, name, d.env(infra, secrets)), f"ipheron/{d.name}:{images['IMAGE_TAG']}")
    try:
        wait_healthy(name)
        yield d, name
    finally:
        docker("rm", "-f", name, check=False)


def _grpc_call(d: Deployable, port: int, secrets: Secrets) -> object:
    """One real RPC per service, as a caller the allow-list names for it."""
    from ipheron.ai_agents.v1 import ai_agents_service_pb2 as ai
    from ipheron.ai_agents.v1 import ai_agents_service_pb2_grpc as ai_grpc
    from ipheron.analytics.v1 import analytics_service_pb2 as an
    from ipheron.analytics.v1 import analytics_service_pb2_grpc as an_grpc
    from ipheron.assets.v1 import assets_service_pb2 as a
    from ipheron.assets.v1 import assets_service_pb2_grpc as a_grpc
    from ipheron.auth.v1 import auth_service_pb2 as au
    from ipheron.auth.v1 import auth_service_pb2_grpc as au_grpc
    from ipheron.chain.v1 import chain_service_pb2 as c
    from ipheron.chain.v1 import chain_service_pb2_grpc as c_grpc
    from ipheron.staking.v1 import staking_service_pb2 as s
    from ipheron.staking.v1 import staking_service_pb2_grpc as s_grpc

    caller = {"assets": "operator", "staking": "operator", "chain": "operator"}.get(d.name, "gateway")
    creds = TlsIdentity.load(secrets.tls / caller).channel_credentials()
    with grpc.secure_channel(f"127.0.0.1:{port}", creds) as ch:
        if d.name == "auth":
            return au_grpc.AuthServiceStub(ch).GetJwks(au.GetJwksRequest(), timeout=10)
        if d.name == "assets":
            return a_grpc.AssetsServiceStub(ch).ListAssets(a.ListAssetsRequest(), timeout=10)
        if d.name == "staking":
            return s_grpc.StakingServiceStub(ch).ListStakes(s.ListStakesRequest(), timeout=10)
        if d.name == "analytics":
            return an_grpc.AnalyticsServiceStub(ch).GetOverview(an.GetOverviewRequest(), timeout=10)
        if d.name == "ai-agents":
            who = [ai.Contributor(user_id="u1", role="lead", effort="30", owns_original_ip=True, reputation=80),
                   ai.Contributor(user_id="u2", role="contributor", effort="10", reputation=50)]
            return ai_grpc.AiAgentsServiceStub(ch).ProposeSplit(ai.ProposeSplitRequest(contributors=who), timeout=30)
        return c_grpc.ChainServiceStub(ch).GetNetworkStatus(c.GetNetworkStatusRequest(), timeout=10)


def test_the_image_turns_healthy_and_answers_a_real_call_over_mutual_tls(started: tuple[Deployable, str],
                                                                         secrets: Secrets) -> None:
    d, name = started
    port = published_port(name, d.port)
    if d.name == "gateway":
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=10) as reply:  # noqa: S310
            assert reply.status == 200 and "/api/v1/assets" in json.loads(reply.read())["paths"]
        return
    reply = _grpc_call(d, port, secrets)
    if d.name == "auth":
        assert json.loads(reply.jwks_json)["keys"], reply  # type: ignore[attr-defined]
    elif d.name == "assets":
        assert list(reply.assets) == [] and reply.page.total == 0  # type: ignore[attr-defined]
    elif d.name == "staking":
        assert list(reply.stakes) == []  # type: ignore[attr-defined]
    elif d.name == "analytics":
        assert reply.total_sales == 0  # type: ignore[attr-defined]
    elif d.name == "ai-agents":
        assert sum(float(x.share_percent) for x in reply.shares) == pytest.approx(100)  # type: ignore[attr-defined]
    else:
        assert reply.chain_id == 31337 and reply.marketplace_address.startswith("0x")  # type: ignore[attr-defined]


def test_without_a_client_certificate_or_token_the_call_is_refused(started: tuple[Deployable, str],
                                                                    secrets: Secrets) -> None:
    d, name = started
    port = published_port(name, d.port)
    if d.name == "gateway":  # end users authenticate with access tokens: none (or a forged one) is refused
        for headers in ({}, {"Authorization": "Bearer forged.token.value"}):
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/users/me", headers=headers)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(req, timeout=10)  # noqa: S310
            assert refused.value.code == 401
            assert refused.value.headers["content-type"] == "application/problem+json"
        return
    ca = (secrets.tls / "gateway" / "ca.crt").read_bytes()
    with grpc.secure_channel(f"127.0.0.1:{port}", grpc.ssl_channel_credentials(root_certificates=ca)) as ch:
        with pytest.raises(grpc.RpcError) as err:
            ch.unary_unary("/grpc.health.v1.Health/Check")(b"", timeout=5)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]


def test_it_runs_as_the_unprivileged_uid_on_a_read_only_root(started: tuple[Deployable, str]) -> None:
    _, name = started
    uid = docker("exec", name, "python", "-c", "import os; print(os.getuid(), os.getgid())").stdout.split()
    assert uid == [str(UID), str(UID)]
    write = docker("exec", name, "python", "-c", "open('/opt/venv/x', 'w')", check=False)
    assert write.returncode != 0 and "Read-only file system" in write.stderr
    assert docker("inspect", "-f", "{{.HostConfig.ReadonlyRootfs}}", name).stdout.strip() == "true"


@pytest.mark.parametrize("name", list(DEPLOYABLES))
def test_production_refuses_a_development_default_in_place_of_a_secret(name: str, infra: Infra, secrets: Secrets,
                                                                        images: dict[str, str]) -> None:
    d = DEPLOYABLES[name]
    cname = f"ct-insecure-{d.name}-{uuid.uuid4().hex[:6]}"
    env = d.insecure(infra, secrets)  # the whole environment of that start
    try:
        docker(*_run_args(d, infra, secrets, cname, env), f"ipheron/{d.name}:{images['IMAGE_TAG']}")
        code = int(docker("wait", cname, timeout=90).stdout.strip())
        out = logs(cname)
        assert code != 0, out
        assert d.refusal in out, out
    finally:
        docker("rm", "-f", cname, check=False)


def test_sigterm_stops_it_within_the_grace_period(started: tuple[Deployable, str]) -> None:
    _, name = started
    docker("stop", "-t", str(GRACE_S), name, timeout=GRACE_S + 30)
    state = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
    # 137 would be Docker's SIGKILL after the grace period; a graceful stop exits on its own.
    assert state["ExitCode"] in (0, 143), (state, logs(name))
    assert not state["OOMKilled"]
