"""The chart through Helm's own engine: strict lint, client dry-run install, strict
Kubernetes schemas, golden renders, and the values it must refuse."""

from __future__ import annotations

import os
from typing import Any

import helm_python as helm
import kubernetes_validate
import pytest
import yaml
from chart_render import CHART, GOLDEN, NAMESPACE, RELEASE, Manifest, production_values, render, render_text

# The Kubernetes version every manifest must validate against (strict: no unknown fields).
KUBE_VERSION = kubernetes_validate.latest_version()
# Custom resources, not in the Kubernetes schemas: checked by shape instead.
CRDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("cert-manager.io/v1", "Certificate")}
WARNING = 2


def tls_values() -> dict[str, Any]:
    values = production_values()
    values["tls"] = {"enabled": True, "certManager": {"enabled": True}}
    return values


CASES = {"default": None, "production": production_values(), "production-tls": tls_values()}


@pytest.mark.parametrize("case", ["default", "production"])
def test_chart_lints_clean_in_strict_mode(case: str) -> None:
    report = helm.lint(CHART, CASES[case], strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= WARNING]
    assert report["errors"] == [] and problems == [], report


@pytest.mark.parametrize("case", ["default", "production"])
def test_client_dry_run_install_renders_every_object(case: str) -> None:
    with helm.Config(namespace=NAMESPACE, storage_driver="memory") as cfg:
        release = cfg.install(CHART, RELEASE, CASES[case], dry_run="client")
    assert release["status"] == "pending-install"
    installed = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(release["manifest"]) if d}
    rendered = render(CASES[case])
    # The release manifest holds everything but the hooks (the migration Jobs run before it).
    expected = {(d["kind"], d["metadata"]["name"]) for d in rendered
                if "helm.sh/hook" not in d["metadata"].get("annotations", {})}
    assert installed == expected


@pytest.mark.parametrize("case", list(CASES))
def test_every_manifest_validates_strictly_against_kubernetes(case: str) -> None:
    docs = render(CASES[case])
    assert docs
    for doc in docs:
        if (doc["apiVersion"], doc["kind"]) in CRDS:
            assert set(doc) == {"apiVersion", "kind", "metadata", "spec"}, doc
            continue
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)


def test_production_tls_issues_one_certificate_per_deployable_and_mounts_it() -> None:
    docs = render(tls_values())
    certs = {d["metadata"]["name"]: d["spec"] for d in docs if d["kind"] == "Certificate"}
    deployments = [d for d in docs if d["kind"] == "Deployment"]
    assert set(certs) == {d["metadata"]["name"] for d in deployments}
    for d in deployments:
        name = d["metadata"]["name"]
        assert certs[name]["secretName"] == f"{name}-tls"
        assert set(certs[name]["usages"]) == {"server auth", "client auth"}
        volumes = {v["name"]: v for v in d["spec"]["template"]["spec"]["volumes"]}
        assert volumes["tls"]["secret"]["secretName"] == f"{name}-tls"


@pytest.mark.parametrize("case", ["default", "production"])
def test_rendered_output_matches_the_golden_file(case: str) -> None:
    """golden/<case>.yaml is the committed render; refresh with UPDATE_GOLDEN=1."""
    path = GOLDEN / f"{case}.yaml"
    text = render_text(CASES[case])
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs from the render: review, then UPDATE_GOLDEN=1"


def _without(values: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = values
    *parents, last = dotted.split(".")
    for p in parents:
        node = node[p]
    node[last] = ""
    return values


@pytest.mark.parametrize("missing", [
    "redis.existingSecret",
    "database.existingSecret",
    "services.auth.jwt.existingSecret",
    "services.chain.signer.existingSecret",
    "services.chain.rpc.existingSecret",
    "services.staking.quoteSigner.existingSecret",
    "services.auth.siwe.domain",
    "services.auth.siwe.uri",
])
def test_production_without_a_secret_name_refuses_to_render(missing: str) -> None:
    values = _without(production_values(), missing)
    with pytest.raises(helm.HelmError) as err:
        render(values)
    assert missing.split(".")[-2] in str(err.value)


def test_production_mtls_without_certificates_refuses_to_render() -> None:
    values = production_values()
    values["tls"] = {"enabled": True}
    with pytest.raises(helm.HelmError, match="tls.existingSecret"):
        render(values)


def test_production_without_mutual_tls_refuses_to_render() -> None:
    # The services refuse to start in production without IPHERON_TLS_DIR: the chart says so first.
    values = production_values()
    values["tls"] = {"enabled": False}
    with pytest.raises(helm.HelmError, match="tls.enabled is required"):
        render(values)


def test_pod_grace_not_above_the_server_grace_is_refused() -> None:
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds"):
        render({"services": {"staking": {"graceSeconds": 30}}})


@pytest.mark.parametrize("values", [
    {"services": {"auth": {"replicas": 3}}},  # a typo of replicaCount
    {"services": {"auth": {"env": {"DATABASE_URL": "postgresql://u:p@db/x"}}}},  # a secret as a plain value
    {"services": {"staking": {"calls": ["payments"]}}},
    {"networkPolicy": {"postgresql": {"to": [{}]}}},  # an empty peer would allow everything
    {"secrets": {"jwt": "x"}},
])
def test_schema_refuses_unknown_or_unsafe_values(values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmError):
        render(values)


def test_no_secret_or_configmap_is_rendered_and_secret_settings_are_references(
        production_docs: list[Manifest]) -> None:
    assert not [d for d in production_docs if d["kind"] in ("Secret", "ConfigMap")]
    secret_names = {"DATABASE_URL", "REDIS_URL", "CHAIN_SIGNER_KEY", "WEB3_PROVIDER_URI", "AUTH_JWT_PRIVATE_KEYS"}
    seen = set()
    for d in production_docs:
        if d["kind"] not in ("Deployment", "Job"):
            continue
        for c in d["spec"]["template"]["spec"]["containers"]:
            for e in c["env"]:
                if e["name"] in secret_names:
                    seen.add(e["name"])
                    assert "value" not in e and "secretKeyRef" in e["valueFrom"], (d["metadata"]["name"], e)
    assert seen == secret_names - {"AUTH_JWT_PRIVATE_KEYS"}  # the JWT keys arrive as a mounted file
