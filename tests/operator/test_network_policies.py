"""The NetworkPolicies of the operator and of the platform chart allow exactly the edges the
README's table documents, evaluated by Kubernetes' rules between named endpoints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from oms_operator import naming, network_policies
from oms_operator.model import Restaurant
from tests.operator import charts, examples
from tests.operator.network_edges import Endpoint, edges

README = examples.REPO / "README.md"
NAMESPACE, RESTAURANT = "food", "trattoria"


def _infra(app: str) -> dict[str, Any]:
    return {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "infra"}},
        "podSelector": {"matchLabels": {"app": app}},
    }


PEERS = {
    "rabbitmq": [_infra("rabbitmq")],
    "mongodb": [{"ipBlock": {"cidr": "10.50.0.0/24"}}],
    "consul": [_infra("consul")],
    "jaeger": [_infra("jaeger")],
    "stripe": [{"ipBlock": {"cidr": "198.51.100.0/24", "except": ["198.51.100.128/25"]}}],
}
ADDRESSES = {
    "rabbitmq": {"url": "amqp://rabbitmq.infra.svc:5672"},
    "mongodb": {"url": "mongodb://10.50.0.5:27017/"},
    "consul": {"address": "consul.infra.svc:8500"},
    "tracing": {"otlpEndpoint": "http://jaeger.infra.svc:4317"},
    "stripe": {"apiBase": "https://api.stripe.com"},
}


def _pod(name: str, namespace: str, ip: str, **labels: str) -> Endpoint:
    return Endpoint(name, ip, namespace, labels)


SERVICES = [
    _pod(s, NAMESPACE, f"10.244.1.{i}", **naming.labels(RESTAURANT, s), pod_template_hash="x")
    for i, s in enumerate(naming.SERVICES, start=10)
]
OTHERS = [
    _pod("RabbitMQ", "infra", "10.244.2.1", app="rabbitmq"),
    Endpoint("MongoDB", "10.50.0.5"),
    _pod("Consul", "infra", "10.244.2.2", app="consul"),
    _pod("Jaeger", "infra", "10.244.2.3", app="jaeger"),
    Endpoint("Stripe", "198.51.100.10"),
    _pod("DNS", "kube-system", "10.244.2.4", **{"k8s-app": "kube-dns"}),
    _pod("monitoring namespace", "monitoring", "10.244.2.5", app="prometheus"),
    # Neither documented nor trusted: another pod of the infrastructure, of the restaurant's
    # own namespace, a tenant elsewhere, and an address on the internet.
    _pod("infra decoy", "infra", "10.244.2.6", app="rabbitmq-exporter"),
    _pod("namespace decoy", NAMESPACE, "10.244.1.99", app="debug"),
    _pod("tenant", "elsewhere", "10.244.3.1", app="shop"),
    Endpoint("internet", "203.0.113.9"),
]
PORTS = [(p, "TCP") for p in (8080, 50051, 9464, 5672, 27017, 8500, 4317, 443, 6379)] + [
    (53, "UDP"),
    (53, "TCP"),
]
WORDS = {
    "every service": list(naming.SERVICES),
    "anyone": [e.name for e in OTHERS],  # a public port: every endpoint not the restaurant's
}


def _names(cell: str) -> list[str]:
    names: list[str] = []
    for word in (w.strip() for w in cell.split(",")):
        names += WORDS.get(word, [word])
    return names


def documented() -> set[tuple[str, str, int, str]]:
    """The README's NetworkPolicy table, expanded to (from, to, port, protocol)."""
    text = README.read_text()
    section = text.split("### NetworkPolicies", 1)[1].split("\n### ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]
    found: set[tuple[str, str, int, str]] = set()
    for row in rows[1:]:
        source, destination, port, _why = (cell.strip() for cell in row.strip("|").split("|"))
        ports = [(int(n), proto or "TCP") for n, proto in re.findall(r"(\d+)/(TCP|UDP)", port)]
        assert ports, row
        found |= {
            (s, d, number, protocol)
            for s in _names(source)
            for d in _names(destination)
            for number, protocol in ports
        }
    return found


def _restaurant(**changes: Any) -> Restaurant:
    spec = examples.restaurant_document()["spec"]
    spec = spec | {key: spec.get(key, {}) | value for key, value in ADDRESSES.items()}
    spec = spec | {"networkPolicy": {"monitoringNamespace": "monitoring", "peers": PEERS}}
    return Restaurant.parse(NAMESPACE, RESTAURANT, spec | changes)


def _allowed(policies: list[dict[str, Any]]) -> set[tuple[str, str, int, str]]:
    return edges(policies, SERVICES + OTHERS, PORTS, naming.SERVICES)


def _chart(tmp_path: Path, tracing: bool = True) -> list[dict[str, Any]]:
    values = {
        "rabbitmq": {"url": ADDRESSES["rabbitmq"]["url"]},
        "mongodb": {"url": ADDRESSES["mongodb"]["url"]},
        "consul": ADDRESSES["consul"],
        "tracing": {"enabled": tracing, **ADDRESSES["tracing"]},
        "stripe": {"apiBase": ADDRESSES["stripe"]["apiBase"]},
        "networkPolicy": {"monitoringNamespace": "monitoring", "peers": PEERS},
    }
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    documents = charts.render(
        "oms", "--set", charts.PRODUCTION, "-f", str(path), release=RESTAURANT, namespace=NAMESPACE
    )
    return [d for d in documents if d["kind"] == "NetworkPolicy"]


def test_the_readme_documents_every_service_and_dependency() -> None:
    table = documented()

    named = {s for s, _, _, _ in table} | {d for _, d, _, _ in table}
    assert set(naming.SERVICES) <= named
    assert {"RabbitMQ", "MongoDB", "Consul", "Jaeger", "Stripe", "DNS"} <= named
    assert not any("decoy" in n or n in ("tenant", "internet") for _, n, _, _ in table)


def test_the_operators_policies_allow_exactly_the_documented_edges() -> None:
    policies = network_policies.network_policies(_restaurant())

    assert _allowed(policies) == documented()


def test_the_charts_policies_allow_exactly_the_documented_edges(tmp_path: Path) -> None:
    policies = _chart(tmp_path)

    assert len(policies) == len(naming.SERVICES)
    assert _allowed(policies) == documented()


def test_without_tracing_no_service_reaches_jaeger(tmp_path: Path) -> None:
    expected = {edge for edge in documented() if edge[1] != "Jaeger"}
    operator = network_policies.network_policies(_restaurant(tracing={"enabled": False}))

    assert _allowed(operator) == expected
    assert _allowed(_chart(tmp_path, tracing=False)) == expected


def test_empty_peers_allow_any_address_but_only_on_that_port() -> None:
    spec = _restaurant().spec.network_policy.model_dump(by_alias=True)
    spec["peers"]["rabbitmq"] = []
    policies = network_policies.network_policies(_restaurant(networkPolicy=spec))

    extra = _allowed(policies) - documented()

    assert {(port, protocol) for _, _, port, protocol in extra} == {(5672, "TCP")}
    assert {source for source, _, _, _ in extra} == set(naming.SERVICES)
    assert {("order", "infra decoy", 5672, "TCP"), ("order", "internet", 5672, "TCP")} <= extra


@pytest.mark.parametrize(
    ("url", "ports"),
    [
        ("mongodb://a:27018,b:27019/db", [27018, 27019]),
        ("mongodb://user:pw@db/", [27017]),
        ("mongodb+srv://cluster.example.com/", [27017]),
    ],
)
def test_mongodb_ports_come_from_every_host_of_the_url(url: str, ports: list[int]) -> None:
    assert network_policies.mongodb_ports(url) == ports
