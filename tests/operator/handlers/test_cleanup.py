"""Deleting a Restaurant: its vhost and Consul entries go (finalizer), its children too (GC)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from devtools import servers
from devtools.kube import ControlPlane, OperatorProcess
from oms_operator import rabbitmq_vhost
from tests.operator import cluster

pytestmark = pytest.mark.timeout(300)
GUEST = ("guest", "guest")


def _queues(rabbitmq: servers.RabbitMQ, vhost: str) -> set[str] | None:
    response = httpx.get(f"{rabbitmq.management_url}/api/queues/{vhost}", auth=GUEST, timeout=5)
    if response.status_code == httpx.codes.NOT_FOUND:
        return None
    response.raise_for_status()
    return {queue["name"] for queue in response.json()}


def _consul_services(consul: servers.Consul, node: str) -> set[str] | None:
    url = f"http://{consul.http_address}/v1/catalog/node-services/{node}"
    # An unknown node answers 200 with null Node and Services.
    listed: dict[str, Any] | None = httpx.get(url, timeout=5).json()
    if not listed or not listed.get("Services"):
        return None
    return {service["Service"] for service in listed["Services"]}


def test_deleting_a_restaurant_removes_its_vhost_consul_entries_and_children(
    kube: ControlPlane,
    namespace: str,
    oms_operator: OperatorProcess,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> None:
    documents = cluster.restaurant_documents(
        "osteria", rabbitmq, consul, example="restaurant-configmap-menu.yaml"
    )
    cluster.apply(kube, namespace, *documents)
    ready = cluster.wait_ready(kube, namespace, "osteria", oms_operator)
    vhost = f"oms-{namespace}-osteria"
    node = f"oms-{namespace}-osteria"
    explain = cluster.explain(kube, namespace, oms_operator)

    # While it lives, its queues are on the real broker and its services in the real Consul.
    assert _queues(rabbitmq, vhost) == set(
        rabbitmq_vhost.expected_queues((1000, 5000, 30000, 120000))
    )
    assert _consul_services(consul, node) == {
        f"{namespace}-osteria-{s}-svc"
        for s in ("menu", "stock", "order", "payment", "kitchen", "gateway")
    }
    assert "oms.dev/cleanup" in ready["metadata"]["finalizers"]

    # As `kubectl delete -f` does: the broker's Secret goes first, the Restaurant after it.
    kube.kubectl("-n", namespace, "delete", "secret", "trattoria-rabbitmq")
    kube.kubectl("-n", namespace, "delete", "restaurant", "osteria", "--wait=true", "--timeout=60s")

    assert cluster.restaurant(kube, namespace, "osteria") is None
    assert _queues(rabbitmq, vhost) is None
    assert _consul_services(consul, node) is None

    def collected() -> bool:
        left = cluster.get_json(
            kube,
            "-n",
            namespace,
            "deployments,services",
            "-l",
            "app.kubernetes.io/instance=osteria",
        )
        return not left["items"]

    cluster.wait_until(
        collected, "osteria's Deployments and Services garbage-collected", 60, explain
    )
