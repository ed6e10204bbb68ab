"""Drift: a Deployment deleted or scaled by hand comes back to the Restaurant's spec."""

from __future__ import annotations

from typing import Any

import pytest

from devtools import servers
from devtools.kube import ControlPlane, OperatorProcess
from tests.operator import cluster

pytestmark = pytest.mark.timeout(300)


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


def test_a_deleted_deployment_is_recreated(
    kube: ControlPlane,
    namespace: str,
    trattoria: dict[str, Any],
    oms_operator: OperatorProcess,
) -> None:
    before = cluster.get_json(kube, "-n", namespace, "deployment", "trattoria-order")

    kube.kubectl("-n", namespace, "delete", "deployment", "trattoria-order", "--wait=true")

    def recreated() -> Any:
        found = cluster.get_json(kube, "-n", namespace, "deployment", "trattoria-order")
        return found if found and found["metadata"]["uid"] != before["metadata"]["uid"] else None

    explain = cluster.explain(kube, namespace, oms_operator)
    again = cluster.wait_until(recreated, "trattoria-order recreated", 30, explain)
    assert again["metadata"]["ownerReferences"][0]["uid"] == trattoria["metadata"]["uid"]
    assert again["spec"]["replicas"] == 1
    cluster.wait_ready(kube, namespace, "trattoria", oms_operator)


def test_a_hand_scaled_deployment_returns_to_spec(
    kube: ControlPlane,
    namespace: str,
    trattoria: dict[str, Any],
    oms_operator: OperatorProcess,
) -> None:
    kube.kubectl("-n", namespace, "scale", "deployment", "trattoria-kitchen", "--replicas=7")

    def back_to_spec() -> bool:
        kitchen = cluster.get_json(kube, "-n", namespace, "deployment", "trattoria-kitchen")
        return bool(kitchen["spec"]["replicas"] == 2)

    explain = cluster.explain(kube, namespace, oms_operator)
    cluster.wait_until(back_to_spec, "trattoria-kitchen back to 2 replicas", 30, explain)
    ready = cluster.wait_ready(kube, namespace, "trattoria", oms_operator)
    assert ready["status"]["kitchenWorkers"] == 2

    def drift_event() -> Any:
        events = cluster.get_json(
            kube,
            "-n",
            namespace,
            "events",
            "--field-selector",
            "involvedObject.kind=Restaurant,involvedObject.name=trattoria,reason=DriftCorrected",
        )
        return events["items"]

    messages = [e["message"] for e in cluster.wait_until(drift_event, "DriftCorrected", 30)]
    assert any("trattoria-kitchen was replicas 7, spec says 2" in m for m in messages), messages
