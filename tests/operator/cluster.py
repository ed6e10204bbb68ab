"""Helpers for the operator's tests on the real control plane (devtools/kube.py).

The operator runs as its container does, `python -m oms_operator` (`Operator`), but as a
subprocess here and with the chart's ServiceAccount token: what it may do is what the chart
grants. The test broker listens on loopback, so 127.0.0.1 is on its allowlist of hosts that
may receive broker credentials (in a cluster, the chart's `brokerHosts`).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

from devtools import servers
from devtools.kube import ControlPlane, OperatorProcess
from tests.operator import examples

T = TypeVar("T")

OPERATOR_NAMESPACE = "oms-system"
RELEASE = "oms-operator"  # the chart's full name is then "oms-operator" too
BROKER_HOSTS = ("127.0.0.1",)


class Operator(OperatorProcess):
    """The operator with the settings the chart's values give it."""

    def __init__(self, workdir: Path, kubeconfig: Path, namespaces: tuple[str, ...] = ()) -> None:
        super().__init__(workdir, kubeconfig)
        self.namespaces = namespaces

    def environment(self) -> dict[str, str]:
        return {
            **super().environment(),
            "OMS_OPERATOR_NAMESPACES": json.dumps(list(self.namespaces)),
            "OMS_OPERATOR_BROKER_HOSTS": json.dumps(list(BROKER_HOSTS)),
        }


def service_account_kubeconfig(
    kube: ControlPlane, namespace: str, account: str, path: Path
) -> Path:
    """A kubeconfig that authenticates as `account` with a fresh bound token."""
    token = kube.kubectl("-n", namespace, "create", "token", account, "--duration=2h").stdout
    admin = yaml.safe_load(kube.kubeconfig.read_text())
    cluster = admin["clusters"][0]["cluster"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": account, "user": {"token": token.strip()}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": account}}],
        "current-context": "test",
    }
    path.write_text(json.dumps(config))
    return path


def wait_until(
    probe: Callable[[], T | None],
    what: str,
    timeout: float,
    explain: Callable[[], str] = lambda: "",
    interval: float = 0.5,
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` and `explain()`."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f}s: {what}\n{explain()}")
        time.sleep(interval)


def get_json(kube: ControlPlane, *args: str) -> Any:
    """`kubectl get ... -o json`, or None when the object does not exist."""
    result = kube.kubectl("get", *args, "-o", "json", check=False)
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise AssertionError(f"kubectl get {' '.join(args)} failed: {result.stderr}")
    return json.loads(result.stdout)


def apply(kube: ControlPlane, namespace: str, *documents: dict[str, Any]) -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": list(documents)}
    kube.kubectl("-n", namespace, "apply", "-f", "-", input=json.dumps(listed))


def restaurant(kube: ControlPlane, namespace: str, name: str) -> Any:
    return get_json(kube, "-n", namespace, "restaurant", name)


def explain(kube: ControlPlane, namespace: str, operator: OperatorProcess) -> Callable[[], str]:
    """What to print when a wait fails: the Restaurants, Deployments and the operator's log."""

    def describe() -> str:
        restaurants = kube.kubectl("-n", namespace, "get", "restaurants", "-o", "yaml", check=False)
        deployments = kube.kubectl("-n", namespace, "get", "deployments", "-o", "wide", check=False)
        return (
            f"restaurants:\n{restaurants.stdout}{restaurants.stderr}\n"
            f"deployments:\n{deployments.stdout}{deployments.stderr}\n"
            f"operator log:\n{operator.log_tail()}"
        )

    return describe


def wait_ready(
    kube: ControlPlane,
    namespace: str,
    name: str,
    operator: OperatorProcess,
    timeout: float = 90,
) -> Any:
    """Until the Restaurant is Ready at its current generation; returns it."""

    def ready() -> Any:
        body = restaurant(kube, namespace, name)
        if body is None:
            return None
        status = body.get("status", {})
        current = status.get("observedGeneration") == body["metadata"]["generation"]
        return body if current and status.get("phase") == "Ready" else None

    return wait_until(
        ready, f"Restaurant {namespace}/{name} Ready", timeout, explain(kube, namespace, operator)
    )


def restaurant_documents(
    name: str, rabbitmq: servers.RabbitMQ, consul: servers.Consul, example: str = "restaurant.yaml"
) -> list[dict[str, Any]]:
    """The example's Secrets and Restaurant, pointed at the test broker and Consul."""
    documents = copy.deepcopy(examples.documents("restaurant.yaml"))
    if example != "restaurant.yaml":
        documents = [d for d in documents if d["kind"] == "Secret"] + examples.documents(example)
    for document in documents:
        if document["kind"] == "Secret" and document["metadata"]["name"] == "trattoria-rabbitmq":
            document["stringData"] = {"username": "guest", "password": "guest"}
        if document["kind"] == "Restaurant":
            address = rabbitmq.amqp_url.split("@", 1)[1].rstrip("/")
            document["metadata"]["name"] = name
            spec = document["spec"]
            spec["rabbitmq"] |= {
                "url": f"amqp://{address}",
                "managementUrl": rabbitmq.management_url,
            }
            spec["consul"] = {"address": consul.http_address}
            spec["mongodb"] = {"url": "mongodb://127.0.0.1:27017/"}
            spec.setdefault("gateway", {}).pop("nodePort", None)
            spec["gateway"]["serviceType"] = "ClusterIP"
    return documents
