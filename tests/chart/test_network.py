"""The NetworkPolicies allow exactly the intended edges: computed from the rendered
policies (a connection between two pods needs the caller's egress AND the callee's
ingress) and compared with the call graph of the services' config.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from chart_render import CHART, Manifest, of_kind, production_values, render

# Who calls whom: the <SVC>_ADDR settings each service's config.py reads (test_settings.py
# checks this table against the Settings classes).
CALLS = {
    "gateway": {"auth", "assets", "staking", "analytics", "ai-agents", "chain"},
    "assets": {"auth", "chain", "ai-agents"},
    "staking": {"assets", "chain", "auth"},
    "ai-agents": {"auth", "analytics"},
    "auth": {"chain"},
    "analytics": set(),
    "chain": set(),
}
PORTS = {"gateway": 8000, "auth": 50051, "assets": 50052, "staking": 50053, "analytics": 50054,
         "ai-agents": 50055, "chain": 50056}
METRICS = {"auth": 9051, "assets": 9052, "staking": 9053, "analytics": 9054, "ai-agents": 9055, "chain": 9056,
           "gateway": 8000}
SERVICES = set(PORTS) - {"gateway"}
Edge = tuple[str, str, int]


def expected_edges(values: dict[str, Any]) -> set[Edge]:
    np = values.get("networkPolicy", {})
    edges: set[Edge] = {(src, dst, PORTS[dst]) for src, dsts in CALLS.items() for dst in dsts}
    edges.add(("ingress-controller", "gateway", 8000))
    edges |= {(s, "postgresql", 5432) for s in SERVICES}
    edges |= {(s, "redis", 6379) for s in PORTS}
    if np.get("chainRpc", {}).get("to"):
        edges.add(("chain", "chain-rpc", np["chainRpc"]["port"]))
    if np.get("otelCollector", {}).get("to") and values.get("otel", {}).get("endpoint"):
        edges |= {(s, "otel-collector", 4317) for s in PORTS}
    if np.get("metrics", {}).get("from"):
        edges |= {("prometheus", s, METRICS[s]) for s in PORTS}
    if values.get("database", {}).get("existingSecret"):  # the migration hook Jobs
        edges |= {(f"{s}-migrations", "postgresql", 5432) for s in SERVICES}
    edges |= {(p, "dns", 53) for p in pods_of(values)}
    return edges


def pods_of(values: dict[str, Any]) -> set[str]:
    pods = set(PORTS)
    if values.get("database", {}).get("existingSecret"):
        pods |= {f"{s}-migrations" for s in SERVICES}
    return pods


def external_peers(values: dict[str, Any]) -> dict[str, str]:
    """Each configured peer (as JSON) -> the name of what it stands for."""
    # The chart's defaults fill what the values leave out.
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["networkPolicy"]
    np = {**defaults, **values.get("networkPolicy", {})}
    names = {"dns": ("dns", "to"), "ingress-controller": ("ingressController", "from"),
             "postgresql": ("postgresql", "to"), "redis": ("redis", "to"), "chain-rpc": ("chainRpc", "to"),
             "otel-collector": ("otelCollector", "to"), "prometheus": ("metrics", "from")}
    out = {}
    for name, (key, direction) in names.items():
        for peer in np.get(key, {}).get(direction) or []:
            out[json.dumps(peer, sort_keys=True)] = name
    return out


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for k, v in selector.get("matchLabels", {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions", []):
        assert expr["operator"] == "In", expr
        if labels.get(expr["key"]) not in expr["values"]:
            return False
    return True


def pod_labels(docs: list[Manifest]) -> dict[str, dict[str, str]]:
    out = {}
    for d in of_kind(docs, "Deployment") + of_kind(docs, "Job"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        out[labels["app.kubernetes.io/component"]] = labels
    return out


def allowed_edges(docs: list[Manifest], values: dict[str, Any]) -> set[Edge]:
    pods = pod_labels(docs)
    externals = external_peers(values)
    egress: dict[str, set[tuple[str, int]]] = {p: set() for p in pods}
    ingress: dict[str, set[tuple[str, int]]] = {p: set() for p in pods}

    def peers(rule_peers: list[dict[str, Any]]) -> set[str]:
        assert rule_peers, "a rule without peers allows every peer"
        names = set()
        for peer in rule_peers:
            key = json.dumps(peer, sort_keys=True)
            if key in externals:
                names.add(externals[key])
                continue
            assert set(peer) == {"podSelector"}, f"unknown peer {peer}"
            matched = {p for p, labels in pods.items() if selects(peer["podSelector"], labels)}
            assert matched, f"peer {peer} selects no pod of the release"
            names |= matched
        return names

    for policy in of_kind(docs, "NetworkPolicy"):
        spec = policy["spec"]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        selected = [p for p, labels in pods.items() if selects(spec["podSelector"], labels)]
        for rule in spec.get("egress", []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: an egress rule without ports allows all"
            for name in peers(rule.get("to", [])):
                for p in selected:
                    egress[p] |= {(name, port["port"]) for port in rule["ports"]}
        for rule in spec.get("ingress", []):
            assert rule.get("ports"), f"{policy['metadata']['name']}: an ingress rule without ports allows all"
            for name in peers(rule.get("from", [])):
                for p in selected:
                    ingress[p] |= {(name, port["port"]) for port in rule["ports"]}

    edges: set[Edge] = set()
    for src, outs in egress.items():
        for dst, port in outs:
            if dst in pods:
                if (src, port) in ingress[dst]:
                    edges.add((src, dst, port))
            else:
                edges.add((src, dst, port))
    for dst, ins in ingress.items():
        for src, port in ins:
            if src not in pods:
                edges.add((src, dst, port))
    return edges


@pytest.mark.parametrize("case", ["default", "production"])
def test_network_policies_allow_exactly_the_call_graph(case: str) -> None:
    values = {} if case == "default" else production_values()
    docs = render(values or None)
    assert allowed_edges(docs, values) == expected_edges(values)


def test_the_network_edges_are_the_callers_the_rpc_allow_lists_name() -> None:
    # Two layers, one graph: a pod may reach a service exactly when the service's mutual-TLS
    # allow-list (ipheron_libs.access) admits that pod's identity to at least one of its RPCs.
    from ipheron_libs import access

    from_allow_lists = {caller: {svc for svc in access.SERVICE_OF if caller in access.callers_of(svc)}
                        for caller in access.DEPLOYABLES}
    assert from_allow_lists == CALLS


def test_every_pod_of_the_release_is_under_the_deny_all_policy(production_docs: list[Manifest]) -> None:
    deny = next(p for p in of_kind(production_docs, "NetworkPolicy") if p["metadata"]["name"].endswith("-deny-all"))
    assert deny["spec"]["ingress"] == []
    for component, labels in pod_labels(production_docs).items():
        assert selects(deny["spec"]["podSelector"], labels), component


def test_an_ingress_only_edge_is_not_a_connection() -> None:
    """The edge computation itself: assets still admitting staking is no edge once staking's egress is gone."""
    values = production_values()
    docs = render(values)
    policy = next(p for p in of_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == "ipheron-staking")
    policy["spec"]["egress"] = [r for r in policy["spec"]["egress"]
                                if "podSelector" not in r["to"][0] or "namespaceSelector" in r["to"][0]]
    edges = allowed_edges(docs, values)
    assert ("staking", "assets", 50052) not in edges
    assert expected_edges(values) - edges == {("staking", "assets", 50052), ("staking", "chain", 50056),
                                              ("staking", "auth", 50051)}
