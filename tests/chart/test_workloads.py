"""Every Deployment is hardened and sized, and each service's Settings class accepts the
environment the chart gives it: the addresses of exactly the services it calls, its
ports, and every setting production requires."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from ai_agents_service.config import Settings as AiAgentsSettings
from analytics_service.config import Settings as AnalyticsSettings
from assets_service.config import Settings as AssetsSettings
from auth_service.config import Settings as AuthSettings
from chain_service.config import ChainSettings
from chart_render import Manifest, of_kind, production_values, render
from ipheron_gateway.config import GatewaySettings
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from staking_service.config import Settings as StakingSettings
from test_network import CALLS, METRICS, PORTS

SETTINGS: dict[str, type[BaseSettings]] = {
    "gateway": GatewaySettings, "auth": AuthSettings, "assets": AssetsSettings, "staking": StakingSettings,
    "analytics": AnalyticsSettings, "ai-agents": AiAgentsSettings, "chain": ChainSettings,
}
# What a Secret reference stands for when the Settings are built from the rendered env.
SECRET_STANDINS = {"DATABASE_URL": "postgresql://svc:pw@db:5432/ipheron", "REDIS_URL": "redis://redis:6379/0",
                   "CHAIN_SIGNER_KEY": "0x" + "ab" * 32, "WEB3_PROVIDER_URI": "https://rpc.example.com",
                   "STAKING_QUOTE_SIGNER_KEY": "0x" + "cd" * 32}
SERVER_GRACE = 5.0


def deployments(docs: list[Manifest]) -> dict[str, Manifest]:
    return {d["metadata"]["labels"]["app.kubernetes.io/component"]: d for d in of_kind(docs, "Deployment")}


def container(d: Manifest) -> dict[str, Any]:
    (c,) = d["spec"]["template"]["spec"]["containers"]
    return c


def env_names(cls: type[BaseSettings]) -> set[str]:
    """Every environment variable a Settings class reads."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    names = set()
    for field, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names |= {str(c).upper() for c in alias.choices}
        else:
            names.add(f"{prefix}{field}".upper())
    return names


def settings_from(d: Manifest) -> BaseSettings:
    """The deployable's Settings, built from exactly the env its container gets."""
    component = d["metadata"]["labels"]["app.kubernetes.io/component"]
    env = {}
    for e in container(d)["env"]:
        env[e["name"]] = e["value"] if "value" in e else SECRET_STANDINS[e["name"]]
    with mock.patch.dict(os.environ, env, clear=True):
        return SETTINGS[component]()


HEALTH_PORT = 8086


@pytest.mark.parametrize("case", ["default_docs", "production_docs"])
def test_every_deployment_has_probes_limits_and_the_hardened_security_context(
        case: str, request: pytest.FixtureRequest) -> None:
    found = deployments(request.getfixturevalue(case))
    assert set(found) == set(PORTS)
    for name, d in found.items():
        pod = d["spec"]["template"]["spec"]
        c = container(d)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            if name == "gateway":
                assert c[probe]["httpGet"]["path"] == {"startupProbe": "/health/live", "livenessProbe": "/health/live",
                                                       "readinessProbe": "/health/ready"}[probe]
            else:
                # With mutual TLS (production) the probes use the plaintext health-only port:
                # kubelet presents no client certificate to the main port.
                want = HEALTH_PORT if case == "production_docs" else PORTS[name]
                assert c[probe]["grpc"]["port"] == want, (name, probe)
        assert c["resources"] == {"requests": {"cpu": "250m", "memory": "512Mi"},
                                  "limits": {"cpu": "500m", "memory": "1Gi"}}, name
        sc = c["securityContext"]
        assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True, name
        assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"] == {"drop": ["ALL"]}, name
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        tmp = next(m for m in c["volumeMounts"] if m["mountPath"] == "/tmp")
        assert "emptyDir" in next(v for v in pod["volumes"] if v["name"] == tmp["name"])
        assert c["ports"][0]["containerPort"] == PORTS[name]
        if case == "production_docs":
            # Mutual TLS on: the certificate is mounted where IPHERON_TLS_DIR points.
            env = {e["name"]: e.get("value") for e in c["env"]}
            assert env["IPHERON_TLS_DIR"] == "/etc/ipheron/tls", name
            assert any(m["mountPath"] == "/etc/ipheron/tls" for m in c["volumeMounts"]), name


def test_production_pods_get_autoscaling_and_disruption_budgets_but_one_chain(production_docs: list[Manifest]) -> None:
    hpas = {h["spec"]["scaleTargetRef"]["name"] for h in of_kind(production_docs, "HorizontalPodAutoscaler")}
    pdbs = {p["metadata"]["name"] for p in of_kind(production_docs, "PodDisruptionBudget")}
    expected = {f"ipheron-{s}" for s in PORTS if s != "chain"}
    assert hpas == expected and pdbs == expected
    chain = deployments(production_docs)["chain"]
    assert chain["spec"]["replicas"] == 1 and chain["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("case", ["default_docs", "production_docs"])
def test_each_service_reads_every_rendered_setting(case: str, request: pytest.FixtureRequest) -> None:
    """No rendered env var is a typo: each one is a setting its Settings class reads."""
    for name, d in deployments(request.getfixturevalue(case)).items():
        unknown = {e["name"] for e in container(d)["env"]} - env_names(SETTINGS[name])
        assert not unknown, (name, unknown)


@pytest.mark.parametrize("case", ["default_docs", "production_docs"])
def test_settings_built_from_the_rendered_env_reach_exactly_their_callees(
        case: str, request: pytest.FixtureRequest) -> None:
    for name, d in deployments(request.getfixturevalue(case)).items():
        s = settings_from(d)
        addr_fields = {f for f in type(s).model_fields if f.endswith("_addr")}
        # The call graph the NetworkPolicies are checked against is the one config.py reads.
        assert {f.removesuffix("_addr").replace("_", "-") for f in addr_fields if name != "gateway"} \
            == (CALLS[name] if name != "gateway" else set()), name
        for f in addr_fields:
            callee = f.removesuffix("_addr").replace("_", "-")
            assert getattr(s, f) == f"ipheron-{callee}:{PORTS[callee]}", (name, f)
        if name == "gateway":
            assert (s.host, s.port) == ("0.0.0.0", 8000)  # type: ignore[attr-defined]
            continue
        assert (s.grpc_host, s.grpc_port) == ("0.0.0.0", PORTS[name])  # type: ignore[attr-defined]
        assert (s.metrics_host, s.metrics_port) == ("0.0.0.0", METRICS[name])  # type: ignore[attr-defined]
        assert s.grace_seconds == SERVER_GRACE  # type: ignore[attr-defined]
        assert d["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > s.grace_seconds  # type: ignore[attr-defined]


def test_production_settings_validate_with_every_required_secret(production_docs: list[Manifest]) -> None:
    """Built from the production render, each Settings passes its own production checks."""
    for name, d in deployments(production_docs).items():
        s = settings_from(d)
        assert s.env == "production", name  # type: ignore[attr-defined]
        assert s.redis_url, name  # type: ignore[attr-defined]
        if name != "gateway":
            assert s.database_url, name  # type: ignore[attr-defined]
    auth = settings_from(deployments(production_docs)["auth"])
    assert auth.jwt_private_keys_file == Path("/etc/ipheron/jwt/jwt-private-keys.pem")  # type: ignore[attr-defined]
    mounts = {m["mountPath"] for m in container(deployments(production_docs)["auth"])["volumeMounts"]}
    assert "/etc/ipheron/jwt" in mounts
    chain = settings_from(deployments(production_docs)["chain"])
    assert not chain.embedded  # type: ignore[attr-defined]


def test_images_default_to_the_app_version_and_take_the_global_registry(
        default_docs: list[Manifest], production_docs: list[Manifest]) -> None:
    for name, d in deployments(default_docs).items():
        assert container(d)["image"] == f"ipheron/{name}:0.1.0"
    for name, d in deployments(production_docs).items():
        assert container(d)["image"] == f"registry.example.com/ipheron/{name}:0.1.0"
    jobs = {j["metadata"]["name"]: j for j in of_kind(production_docs, "Job")}
    assert set(jobs) == {f"ipheron-{s}-migrate" for s in PORTS if s != "gateway"}
    for j in jobs.values():
        annotations = j["metadata"]["annotations"]
        assert annotations["helm.sh/hook"] == "pre-install,pre-upgrade"
        (c,) = j["spec"]["template"]["spec"]["containers"]
        assert c["securityContext"]["readOnlyRootFilesystem"] is True
        assert [e["name"] for e in c["env"] if "valueFrom" in e] == ["DATABASE_URL"]


def test_the_chain_contract_settings_reach_the_chain_service() -> None:
    """Deployed contract addresses, the timelock delay and the withdraw cooldown set in the
    chart's values arrive as the chain service's settings (and nowhere else)."""
    values = production_values()
    token, market, timelock = ("0x" + c * 40 for c in "abc")
    values["services"]["chain"].update({
        "contracts": {"token": token, "marketplace": market, "timelock": timelock},
        "timelockDelaySeconds": 172800, "withdrawCooldownSeconds": 7200})
    docs = render(values)
    chain = settings_from(deployments(docs)["chain"])
    assert (chain.token_address, chain.marketplace_address, chain.timelock_address) == (  # type: ignore[attr-defined]
        token, market, timelock)
    assert chain.timelock_delay_s == 172800 and chain.withdraw_cooldown_s == 7200  # type: ignore[attr-defined]
    others = {e["name"] for name, d in deployments(docs).items() if name != "chain" for e in container(d)["env"]}
    assert not {n for n in others if n.startswith("CHAIN_") and n != "CHAIN_ADDR"}
