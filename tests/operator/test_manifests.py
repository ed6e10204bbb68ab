"""The child manifests built from a Restaurant spec (pure: no cluster)."""

from __future__ import annotations

import inspect
import json
import math
from typing import Any

import pytest

from oms.platform.bootstrap import Platform
from oms_operator import manifests, naming
from oms_operator.model import Restaurant
from tests.operator import examples


def _container(manifest: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = manifest["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


def _env(manifest: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in _container(manifest)["env"]}


def _with(restaurant: Restaurant, **spec: Any) -> Restaurant:
    document = examples.restaurant_document()["spec"] | spec
    return Restaurant.parse(restaurant.namespace, restaurant.name, document)


@pytest.fixture
def trattoria() -> Restaurant:
    return examples.restaurant(namespace="food")


def test_children_are_a_deployment_service_and_network_policy_per_service(
    trattoria: Restaurant,
) -> None:
    children = manifests.children(trattoria)

    kinds = sorted((c["kind"], c["metadata"]["name"]) for c in children)
    expected = [("ConfigMap", "trattoria-menu")]
    for service in ("menu", "stock", "order", "payment", "kitchen", "gateway"):
        expected += [
            (kind, f"trattoria-{service}") for kind in ("Deployment", "Service", "NetworkPolicy")
        ]
    assert kinds == sorted(expected)
    assert {c["metadata"]["namespace"] for c in children} == {"food"}
    # The policies exist before the pods they guard.
    order = [c["kind"] for c in children]
    assert order.index("Deployment") > max(i for i, k in enumerate(order) if k == "NetworkPolicy")


def test_network_policies_can_be_turned_off(trattoria: Restaurant) -> None:
    restaurant = _with(trattoria, networkPolicy={"enabled": False})

    assert all(c["kind"] != "NetworkPolicy" for c in manifests.children(restaurant))


@pytest.mark.parametrize("service", naming.SERVICES)
def test_every_service_runs_the_one_image_with_its_module(
    trattoria: Restaurant, service: str
) -> None:
    deployment = manifests.deployment(trattoria, service)
    container = _container(deployment)

    assert container["image"] == "oms:latest"
    assert container["command"] == ["python", "-m", f"oms.{service}"]
    assert container["resources"]["requests"] == {"cpu": "50m", "memory": "128Mi"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/name": "oms",
        "app.kubernetes.io/instance": "trattoria",
        "app.kubernetes.io/component": service,
        "app.kubernetes.io/part-of": "oms",
        "app.kubernetes.io/managed-by": "oms-operator",
    }
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert selector.items() <= labels.items()


@pytest.mark.parametrize("service", naming.SERVICES)
def test_every_process_is_probed_and_scraped_on_its_ops_port(
    trattoria: Restaurant, service: str
) -> None:
    deployment = manifests.deployment(trattoria, service)
    container = _container(deployment)

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["ops"] == 9464 == naming.OPS_PORT
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "ops"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "ops"}
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == "9464"
    assert annotations["prometheus.io/path"] == "/metrics"


@pytest.mark.parametrize("service", naming.GRPC_SERVICES)
def test_grpc_services_serve_50051_behind_their_service(
    trattoria: Restaurant, service: str
) -> None:
    container = _container(manifests.deployment(trattoria, service))

    assert {"name": "grpc", "containerPort": 50051} in container["ports"]
    service_port = manifests.service(trattoria, service)["spec"]["ports"]
    assert service_port == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "appProtocol": "grpc"}
    ]


def test_the_gateway_serves_http_on_8080(trattoria: Restaurant) -> None:
    container = _container(manifests.deployment(trattoria, "gateway"))

    assert {"name": "http", "containerPort": 8080} in container["ports"]
    service = manifests.service(trattoria, "gateway")["spec"]
    assert service["type"] == "NodePort"
    assert service["ports"][0]["nodePort"] == 30080


def test_the_kitchen_outlives_its_longest_cook_after_the_pre_stop_pause(
    trattoria: Restaurant,
) -> None:
    for longest, drain in ((60, 20), (300, 20), (10, 45.5)):
        kitchen = {"workers": 2, "longestCookSeconds": longest, "drainSeconds": drain}
        pod = manifests.deployment(_with(trattoria, kitchen=kitchen), "kitchen")["spec"]
        lifecycle = pod["template"]["spec"]["containers"][0]["lifecycle"]
        pre_stop = lifecycle["preStop"]["sleep"]["seconds"]

        grace = pod["template"]["spec"]["terminationGracePeriodSeconds"]

        assert pre_stop == naming.PRE_STOP_SECONDS == 5
        assert grace > pre_stop + max(longest, drain), (longest, drain)
        assert grace == 5 + math.ceil(max(longest, drain)) + 15


def test_the_consumer_grace_is_the_platforms_own() -> None:
    grace = inspect.signature(Platform.consume).parameters["grace_seconds"].default

    assert grace == naming.CONSUMER_GRACE_SECONDS


@pytest.mark.parametrize("service", ["menu", "stock", "order", "payment", "gateway"])
def test_other_services_outlive_their_consumers_grace(trattoria: Restaurant, service: str) -> None:
    pod = manifests.deployment(trattoria, service)["spec"]["template"]["spec"]

    assert pod["terminationGracePeriodSeconds"] == 5 + naming.CONSUMER_GRACE_SECONDS + 15
    assert pod["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}


def test_the_grpc_tls_secret_is_mounted_in_every_pod_readable_by_its_group(
    trattoria: Restaurant,
) -> None:
    restaurant = _with(trattoria, grpcTLS={"secretName": "trattoria-grpc-tls"})
    for service in naming.SERVICES:
        pod = manifests.deployment(restaurant, service)["spec"]["template"]["spec"]

        volumes = {v["name"]: v for v in pod["volumes"]}
        mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
        assert volumes["grpc-tls"]["secret"] == {
            "secretName": "trattoria-grpc-tls",
            "defaultMode": 0o440,
        }
        assert mounts["grpc-tls"] == {
            "name": "grpc-tls",
            "mountPath": "/etc/oms/tls",
            "readOnly": True,
        }
        assert pod["securityContext"]["fsGroup"] == 10001
    plain = manifests.deployment(trattoria, "order")["spec"]["template"]["spec"]
    assert "grpc-tls" not in {v["name"] for v in plain["volumes"]}


def test_the_kitchen_runs_one_cook_per_pod_and_a_pod_per_worker(trattoria: Restaurant) -> None:
    for workers in (0, 1, 7, 50):
        restaurant = _with(trattoria, kitchen={"workers": workers, "secondsPerItem": 0.5})
        deployment = manifests.deployment(restaurant, "kitchen")

        assert deployment["spec"]["replicas"] == workers
        assert _env(deployment)["KITCHEN_WORKERS"] == "1"


def test_the_inline_menu_becomes_the_seed_file_menu_and_stock_load(trattoria: Restaurant) -> None:
    config_map = manifests.menu_config_map(trattoria)
    assert config_map is not None
    seed = json.loads(config_map["data"]["menu.json"])

    assert seed["items"][0] == {
        "id": "margherita",
        "name": "Margherita",
        "description": "Tomato, fior di latte, basil",
        "price_minor": 950,
        "currency": "EUR",
    }
    assert seed["stock"]["margherita"] == 200
    for service, variable in (("menu", "MENU_SEED_FILE"), ("stock", "STOCK_SEED_FILE")):
        deployment = manifests.deployment(trattoria, service)
        assert _env(deployment)[variable] == "/etc/oms/menu/menu.json"
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {"name": "seed", "configMap": {"name": "trattoria-menu"}} in volumes


def test_a_menu_change_restarts_menu_and_stock(trattoria: Restaurant) -> None:
    before = manifests.deployment(trattoria, "menu")["spec"]["template"]["metadata"]
    items = examples.restaurant_document()["spec"]["menu"]["items"][:2]
    after = manifests.deployment(_with(trattoria, menu={"items": items}), "menu")

    assert after["spec"]["template"]["metadata"]["annotations"] != before["annotations"]


def test_a_referenced_config_map_is_mounted_as_the_seed_file() -> None:
    osteria = examples.restaurant("restaurant-configmap-menu.yaml")

    assert manifests.menu_config_map(osteria) is None
    volumes = manifests.deployment(osteria, "stock")["spec"]["template"]["spec"]["volumes"]
    assert {
        "name": "seed",
        "configMap": {"name": "osteria-menu", "items": [{"key": "menu.json", "path": "menu.json"}]},
    } in volumes
    assert all(c["kind"] != "ConfigMap" for c in manifests.children(osteria))
