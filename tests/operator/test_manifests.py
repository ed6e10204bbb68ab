"""The child manifests built from a Restaurant spec (pure: no cluster)."""

from __future__ import annotations

import json
from typing import Any

import pytest

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


def test_children_are_a_deployment_and_service_per_platform_service(trattoria: Restaurant) -> None:
    children = manifests.children(trattoria)

    kinds = sorted((c["kind"], c["metadata"]["name"]) for c in children)
    expected = [("ConfigMap", "trattoria-menu")]
    for service in ("menu", "stock", "order", "payment", "kitchen", "gateway"):
        expected += [("Deployment", f"trattoria-{service}"), ("Service", f"trattoria-{service}")]
    assert kinds == sorted(expected)
    assert {c["metadata"]["namespace"] for c in children} == {"food"}


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


@pytest.mark.parametrize("service", naming.GRPC_SERVICES)
def test_grpc_services_listen_on_50051_with_grpc_probes(
    trattoria: Restaurant, service: str
) -> None:
    container = _container(manifests.deployment(trattoria, service))
    env = _env(manifests.deployment(trattoria, service))

    assert container["ports"] == [{"name": "grpc", "containerPort": 50051}]
    assert container["readinessProbe"]["grpc"] == {"port": 50051}
    assert container["livenessProbe"]["grpc"] == {"port": 50051}
    assert env["GRPC_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["GRPC_PORT"] == "50051"
    assert env["GRPC_ADVERTISE_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    service_port = manifests.service(trattoria, service)["spec"]["ports"]
    assert service_port == [
        {"name": "grpc", "port": 50051, "targetPort": "grpc", "appProtocol": "grpc"}
    ]


def test_the_gateway_serves_http_on_8080_with_health_and_readiness(trattoria: Restaurant) -> None:
    deployment = manifests.deployment(trattoria, "gateway")
    container = _container(deployment)
    env = _env(deployment)

    assert container["ports"] == [{"name": "http", "containerPort": 8080}]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert env["GATEWAY_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["GATEWAY_PORT"] == "8080"
    assert env["GATEWAY_ADVERTISE_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["GATEWAY_ADMIN_TOKEN"] == {
        "secretKeyRef": {"name": "trattoria-gateway", "key": "admin-token"}
    }
    assert "GRPC_PORT" not in env
    service = manifests.service(trattoria, "gateway")["spec"]
    assert service["type"] == "NodePort"
    assert service["ports"][0]["nodePort"] == 30080


def test_platform_settings_point_at_the_restaurants_vhost_and_database(
    trattoria: Restaurant,
) -> None:
    env = _env(manifests.deployment(trattoria, "order"))

    assert env["AMQP_USERNAME"] == {
        "secretKeyRef": {"name": "trattoria-rabbitmq", "key": "username"}
    }
    # Kubernetes expands $(VAR) from variables defined earlier in the same list.
    names = [e["name"] for e in _container(manifests.deployment(trattoria, "order"))["env"]]
    assert names.index("AMQP_PASSWORD") < names.index("RABBITMQ_URL")
    assert env["RABBITMQ_URL"] == (
        "amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@rabbitmq.oms-infra:5672/oms-food-trattoria"
    )
    assert json.loads(env["RABBITMQ_RETRY_DELAYS_MS"]) == [1000, 5000, 30000, 120000]
    assert env["MONGODB_URL"] == "mongodb://mongodb.oms-infra:27017/"
    assert env["MONGODB_DATABASE"] == "oms_food_trattoria"
    assert env["CONSUL_HTTP_ADDR"] == "consul.oms-infra:8500"
    assert env["CONSUL_SERVICE_PREFIX"] == "food-trattoria-"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger.oms-infra:4317"
    assert env["OTEL_SDK_DISABLED"] == "false"
    assert env["LOG_LEVEL"] == "INFO"
    assert env["LOG_FORMAT"] == "json"


def test_the_kitchen_runs_one_cook_per_pod_and_a_pod_per_worker(trattoria: Restaurant) -> None:
    for workers in (0, 1, 7, 50):
        restaurant = _with(trattoria, kitchen={"workers": workers, "secondsPerItem": 0.5})
        deployment = manifests.deployment(restaurant, "kitchen")

        assert deployment["spec"]["replicas"] == workers
        assert _env(deployment)["KITCHEN_WORKERS"] == "1"
        assert _env(deployment)["KITCHEN_SECONDS_PER_ITEM"] == "0.5"


def test_payment_reads_stripe_keys_from_the_secret(trattoria: Restaurant) -> None:
    env = _env(manifests.deployment(trattoria, "payment"))

    assert env["STRIPE_API_KEY"] == {"secretKeyRef": {"name": "trattoria-stripe", "key": "api-key"}}
    assert env["STRIPE_WEBHOOK_SECRET"] == {
        "secretKeyRef": {"name": "trattoria-stripe", "key": "webhook-secret"}
    }
    assert env["STRIPE_API_BASE"] == "http://stripe-mock.oms-infra:12111"


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
