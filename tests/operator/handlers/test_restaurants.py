"""A Restaurant on the real API server: children, status, printer columns, kitchen workers,
and what the API server refuses. The operator runs with the chart's ServiceAccount."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devtools import servers
from devtools.kube import ControlPlane, OperatorProcess
from devtools.process import free_port
from tests.operator import cluster

pytestmark = pytest.mark.timeout(300)
SERVICES = ("menu", "stock", "order", "payment", "kitchen", "gateway")
_ITEM = {"id": "a", "name": "A", "priceMinor": 1, "currency": "EUR"}


@pytest.fixture(scope="module")
def trattoria(
    kube: ControlPlane,
    namespace: str,
    oms_operator: OperatorProcess,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> dict[str, Any]:
    cluster.apply(kube, namespace, *cluster.restaurant_documents("trattoria", rabbitmq, consul))
    ready: dict[str, Any] = cluster.wait_ready(kube, namespace, "trattoria", oms_operator)
    return ready


def _deployment(kube: ControlPlane, namespace: str, service: str) -> Any:
    return cluster.get_json(kube, "-n", namespace, "deployment", f"trattoria-{service}")


def test_it_becomes_ready_with_owned_available_deployments(
    kube: ControlPlane, namespace: str, trattoria: dict[str, Any]
) -> None:
    status = trattoria["status"]
    assert status["readyServices"] == "6/6"
    assert status["kitchenWorkers"] == 2
    assert status["vhost"] == f"oms-{namespace}-trattoria"
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Ready"]["status"] == "True"
    assert conditions["Degraded"]["status"] == "False"
    for service in SERVICES:
        deployment = _deployment(kube, namespace, service)
        (owner,) = deployment["metadata"]["ownerReferences"]
        assert owner["kind"] == "Restaurant"
        assert owner["uid"] == trattoria["metadata"]["uid"]
        assert owner["controller"] is True
        available = {c["type"]: c["status"] for c in deployment["status"]["conditions"]}
        assert available["Available"] == "True", service
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["command"] == ["python", "-m", f"oms.{service}"]
        service_object = cluster.get_json(kube, "-n", namespace, "service", f"trattoria-{service}")
        assert service_object["metadata"]["ownerReferences"][0]["uid"] == owner["uid"]
    menu = cluster.get_json(kube, "-n", namespace, "configmap", "trattoria-menu")
    assert json.loads(menu["data"]["menu.json"])["stock"]["margherita"] == 200


def test_kubectl_get_shows_phase_kitchen_ready_and_age(
    kube: ControlPlane, namespace: str, trattoria: dict[str, Any]
) -> None:
    output = kube.kubectl("-n", namespace, "get", "restaurants").stdout.splitlines()

    assert output[0].split() == ["NAME", "PHASE", "KITCHEN", "READY", "AGE"]
    assert output[1].split()[:4] == ["trattoria", "Ready", "2", "6/6"]
    wide = kube.kubectl("-n", namespace, "get", "restaurants", "-o", "wide").stdout
    assert "Trattoria Demo" in wide


def test_what_it_did_is_in_the_restaurants_events(
    kube: ControlPlane,
    namespace: str,
    trattoria: dict[str, Any],
    oms_operator: OperatorProcess,
) -> None:
    def reconciled() -> Any:
        events = cluster.get_json(
            kube,
            "-n",
            namespace,
            "events",
            "--field-selector",
            "involvedObject.kind=Restaurant,involvedObject.name=trattoria",
        )
        return [e for e in events["items"] if e["reason"] == "Reconciled"]

    (event, *_) = cluster.wait_until(
        reconciled, "a Reconciled event", 30, cluster.explain(kube, namespace, oms_operator)
    )
    assert "queues in vhost" in event["message"]
    assert event["type"] == "Normal"


def test_the_kitchen_follows_spec_kitchen_workers(
    kube: ControlPlane,
    namespace: str,
    trattoria: dict[str, Any],
    oms_operator: OperatorProcess,
) -> None:
    for workers in (4, 1):
        patch = json.dumps({"spec": {"kitchen": {"workers": workers}}})
        kube.kubectl(
            "-n", namespace, "patch", "restaurant", "trattoria", "--type=merge", "-p", patch
        )

        ready = cluster.wait_ready(kube, namespace, "trattoria", oms_operator)

        assert ready["status"]["kitchenWorkers"] == workers
        kitchen = _deployment(kube, namespace, "kitchen")
        assert kitchen["spec"]["replicas"] == workers

        def cooks_ready(workers: int = workers) -> bool:
            kitchen = _deployment(kube, namespace, "kitchen")
            return bool(kitchen["status"].get("readyReplicas") == workers)

        explain = cluster.explain(kube, namespace, oms_operator)
        cluster.wait_until(cooks_ready, f"{workers} kitchen pods ready", 30, explain)


def test_its_network_policies_follow_spec_network_policy_enabled(
    kube: ControlPlane,
    namespace: str,
    trattoria: dict[str, Any],
    oms_operator: OperatorProcess,
) -> None:
    explain = cluster.explain(kube, namespace, oms_operator)

    def policies() -> list[Any]:
        listed = cluster.get_json(
            kube, "-n", namespace, "networkpolicies", "-l", "app.kubernetes.io/instance=trattoria"
        )
        return list(listed["items"])

    owned = policies()
    names = sorted(p["metadata"]["name"] for p in owned)
    assert names == sorted(f"trattoria-{s}" for s in SERVICES)
    assert {p["metadata"]["ownerReferences"][0]["uid"] for p in owned} == {
        trattoria["metadata"]["uid"]
    }
    for enabled in (False, True):
        patch = json.dumps({"spec": {"networkPolicy": {"enabled": enabled}}})
        kube.kubectl(
            "-n", namespace, "patch", "restaurant", "trattoria", "--type=merge", "-p", patch
        )

        def followed(enabled: bool = enabled) -> bool:
            return len(policies()) == (len(SERVICES) if enabled else 0)

        cluster.wait_until(followed, f"NetworkPolicies with enabled={enabled}", 30, explain)
        cluster.wait_ready(kube, namespace, "trattoria", oms_operator)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kitchen": {"workers": -1}}, "spec.kitchen.workers: Invalid value: -1"),
        ({"kitchen": {"workers": 51}}, "spec.kitchen.workers: Invalid value: 51"),
        ({"replicas": {"order": 0}}, "spec.replicas.order: Invalid value: 0"),
        (
            {"menu": {"configMapRef": {"name": "m"}, "items": [_ITEM]}},
            "set exactly one of spec.menu.items and spec.menu.configMapRef",
        ),
        ({"consul": {"address": "no port"}}, "spec.consul.address: Invalid value"),
        (
            {"grpcTLS": {"secretName": "tls", "insecure": True}},
            "set exactly one of spec.grpcTLS.secretName (mutual TLS) and spec.grpcTLS.insecure",
        ),
        ({"grpcTLS": {"insecure": False}}, "set exactly one of spec.grpcTLS.secretName"),
    ],
)
def test_the_api_server_rejects_an_invalid_spec_with_a_clear_message(
    kube: ControlPlane,
    operator_chart: str,  # the CRD
    namespace: str,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
    change: dict[str, Any],
    message: str,
) -> None:
    documents = cluster.restaurant_documents("invalid", rabbitmq, consul)
    (document,) = [d for d in documents if d["kind"] == "Restaurant"]
    document["spec"] |= change

    result = kube.kubectl(
        "-n", namespace, "apply", "-f", "-", input=json.dumps(document), check=False
    )

    assert result.returncode != 0
    assert message in result.stderr, result.stderr
    assert cluster.restaurant(kube, namespace, "invalid") is None


def test_production_without_grpc_tls_or_an_explicit_opt_out_is_rejected(
    kube: ControlPlane,
    operator_chart: str,  # the CRD
    namespace: str,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> None:
    documents = cluster.restaurant_documents("plaintext", rabbitmq, consul)
    (document,) = [d for d in documents if d["kind"] == "Restaurant"]
    del document["spec"]["grpcTLS"]  # the example's `insecure: true`
    development = {**document, "metadata": {"name": "plaintext-dev"}}
    development["spec"] = {**document["spec"], "mode": "development"}

    refused = kube.kubectl(
        "-n", namespace, "apply", "-f", "-", input=json.dumps(document), check=False
    )
    accepted = kube.kubectl(
        "-n", namespace, "apply", "--dry-run=server", "-f", "-", input=json.dumps(development)
    )

    assert refused.returncode != 0
    assert "spec.mode production (the default) needs spec.grpcTLS" in refused.stderr
    assert cluster.restaurant(kube, namespace, "plaintext") is None
    assert "(server dry run)" in accepted.stdout


def test_trusted_proxies_must_be_addresses_or_networks(
    kube: ControlPlane,
    operator_chart: str,  # the CRD
    namespace: str,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> None:
    documents = cluster.restaurant_documents("proxied", rabbitmq, consul)
    (document,) = [d for d in documents if d["kind"] == "Restaurant"]
    gateway = document["spec"]["gateway"]
    good = {**document, "spec": {**document["spec"], "gateway": gateway.copy()}}
    good["spec"]["gateway"]["trustedProxies"] = ["10.244.0.0/16", "192.168.1.5", "fd00::/8"]
    gateway["trustedProxies"] = ["10.244.0.0/16", "ingress.example"]

    refused = kube.kubectl(
        "-n", namespace, "apply", "-f", "-", input=json.dumps(document), check=False
    )
    accepted = kube.kubectl(
        "-n", namespace, "apply", "--dry-run=server", "-f", "-", input=json.dumps(good)
    )

    assert refused.returncode != 0
    assert "each of spec.gateway.trustedProxies must be an IP address or a CIDR" in refused.stderr
    assert "(server dry run)" in accepted.stdout


def test_a_name_too_long_for_its_children_is_rejected(
    kube: ControlPlane,
    operator_chart: str,  # the CRD
    namespace: str,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> None:
    (document,) = [
        d
        for d in cluster.restaurant_documents("x" * 41, rabbitmq, consul)
        if d["kind"] == "Restaurant"
    ]

    result = kube.kubectl(
        "-n", namespace, "apply", "-f", "-", input=json.dumps(document), check=False
    )

    assert "metadata.name must be a DNS-1035 label of at most 40 characters" in result.stderr


def test_an_unreachable_broker_degrades_it_until_the_spec_is_fixed(
    kube: ControlPlane,
    namespace: str,
    oms_operator: OperatorProcess,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> None:
    documents = cluster.restaurant_documents("broken", rabbitmq, consul)
    (document,) = [d for d in documents if d["kind"] == "Restaurant"]
    good = document["spec"]["rabbitmq"]["managementUrl"]
    document["spec"]["rabbitmq"]["managementUrl"] = f"http://127.0.0.1:{free_port()}"
    explain = cluster.explain(kube, namespace, oms_operator)

    cluster.apply(kube, namespace, *documents)

    def degraded() -> Any:
        body = cluster.restaurant(kube, namespace, "broken")
        status = (body or {}).get("status", {})
        return status if status.get("phase") == "Degraded" else None

    status = cluster.wait_until(degraded, "broken Degraded", 60, explain)
    condition = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert condition["status"] == "True"
    assert condition["reason"] == "BrokerUnavailable"
    assert "RabbitMQ vhost oms-" in condition["message"]
    assert status["lastError"]["reason"] == "BrokerUnavailable"
    # The Kubernetes side does not wait for the broker.
    assert cluster.get_json(kube, "-n", namespace, "deployment", "broken-order") is not None

    patch = json.dumps({"spec": {"rabbitmq": {"managementUrl": good}}})
    kube.kubectl("-n", namespace, "patch", "restaurant", "broken", "--type=merge", "-p", patch)

    fixed = cluster.wait_ready(kube, namespace, "broken", oms_operator)
    assert "lastError" not in fixed["status"]
    kube.kubectl("-n", namespace, "delete", "restaurant", "broken", "--wait=true", "--timeout=60s")
