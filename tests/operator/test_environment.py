"""The environment each service's container gets from a Restaurant (pure: no cluster).

That each list is exactly what the service's Settings reads is test_service_settings.py's
job; these say what the values are.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from oms_operator import environment, naming
from oms_operator.model import InvalidSpec, Restaurant
from tests.operator import examples


def _env(restaurant: Restaurant, service: str) -> dict[str, Any]:
    return {
        e["name"]: e.get("value", e.get("valueFrom"))
        for e in environment.environment(restaurant, service)
    }


def _with(restaurant: Restaurant, **spec: Any) -> Restaurant:
    document = examples.restaurant_document()["spec"] | spec
    return Restaurant.parse(restaurant.namespace, restaurant.name, document)


@pytest.fixture
def trattoria() -> Restaurant:
    return examples.restaurant(namespace="food")


def test_platform_settings_point_at_the_restaurants_vhost_and_database(
    trattoria: Restaurant,
) -> None:
    env = _env(trattoria, "order")

    assert env["OMS_MODE"] == "production"
    assert env["AMQP_USERNAME"] == {
        "secretKeyRef": {"name": "trattoria-rabbitmq", "key": "username"}
    }
    # Kubernetes expands $(VAR) from variables defined earlier in the same list.
    names = [e["name"] for e in environment.environment(trattoria, "order")]
    assert names.index("AMQP_PASSWORD") < names.index("RABBITMQ_URL")
    assert env["RABBITMQ_URL"] == (
        "amqp://$(AMQP_USERNAME):$(AMQP_PASSWORD)@rabbitmq.oms-infra.svc:5672/oms-food-trattoria"
    )
    assert json.loads(env["RABBITMQ_RETRY_DELAYS_MS"]) == [1000, 5000, 30000, 120000]
    assert env["MONGODB_URL"] == "mongodb://mongodb.oms-infra.svc:27017/"
    assert env["MONGODB_DATABASE"] == "oms_food_trattoria"
    assert env["CONSUL_HTTP_ADDR"] == "consul.oms-infra.svc:8500"
    assert env["CONSUL_SERVICE_PREFIX"] == "food-trattoria-"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger.oms-infra.svc:4317"
    assert env["OTEL_SDK_DISABLED"] == "false"
    assert env["OTEL_TRACES_SAMPLER"] == "parentbased_always_on"
    assert env["LOG_LEVEL"] == "INFO"
    assert env["LOG_FORMAT"] == "json"


@pytest.mark.parametrize("service", naming.SERVICES)
def test_every_process_serves_its_ops_port_on_the_pod_ip(
    trattoria: Restaurant, service: str
) -> None:
    env = _env(trattoria, service)

    assert env["OPS_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["OPS_PORT"] == "9464"


@pytest.mark.parametrize("service", naming.GRPC_SERVICES)
def test_grpc_services_listen_on_50051_and_advertise_the_pod_ip(
    trattoria: Restaurant, service: str
) -> None:
    env = _env(trattoria, service)

    assert env["GRPC_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["GRPC_PORT"] == "50051"
    assert env["GRPC_ADVERTISE_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}


def test_the_gateway_has_no_database_and_its_secrets_from_secrets(trattoria: Restaurant) -> None:
    env = _env(trattoria, "gateway")

    assert env["GATEWAY_HOST"] == "0.0.0.0"  # noqa: S104
    assert env["GATEWAY_PORT"] == "8080"
    assert env["GATEWAY_ADVERTISE_HOST"] == {"fieldRef": {"fieldPath": "status.podIP"}}
    assert env["GATEWAY_ADMIN_TOKEN"] == {
        "secretKeyRef": {"name": "trattoria-gateway", "key": "admin-token"}
    }
    assert env["GATEWAY_SESSION_SECRET"] == {
        "secretKeyRef": {"name": "trattoria-gateway", "key": "session-secret"}
    }
    assert env["GATEWAY_SECURE_COOKIES"] == "false"  # the example is served over http
    assert {"GRPC_PORT", "MONGODB_URL", "MONGODB_DATABASE", "STRIPE_API_KEY"}.isdisjoint(env)


def test_the_gateways_rate_limits_and_cookies_follow_the_spec(trattoria: Restaurant) -> None:
    gateway = examples.restaurant_document()["spec"]["gateway"] | {
        "publicUrl": "https://trattoria.example.com/",
        "rateLimits": {
            "ordersPerMinute": 6,
            "orderBurst": 2,
            "sessionsPerMinute": 3,
            "webhooksPerSecond": 5,
        },
    }
    env = _env(_with(trattoria, gateway=gateway), "gateway")

    assert env["GATEWAY_SECURE_COOKIES"] == "true"
    assert env["GATEWAY_ORDER_RATE_PER_MINUTE"] == "6.0"
    assert env["GATEWAY_ORDER_BURST"] == "2"
    assert env["GATEWAY_SESSION_RATE_PER_MINUTE"] == "3.0"
    assert env["GATEWAY_SESSION_BURST"] == "30"
    assert env["GATEWAY_WEBHOOK_RATE_PER_SECOND"] == "5.0"
    assert env["GATEWAY_WEBHOOK_BURST"] == "200"
    assert env["GATEWAY_TRUSTED_PROXIES"] == ""  # nobody's X-Forwarded-For by default


def test_the_gateway_believes_x_forwarded_for_only_from_the_proxies_the_spec_names(
    trattoria: Restaurant,
) -> None:
    gateway = examples.restaurant_document()["spec"]["gateway"] | {
        "trustedProxies": ["10.244.0.0/16", "192.168.1.5"]
    }

    env = _env(_with(trattoria, gateway=gateway), "gateway")

    assert env["GATEWAY_TRUSTED_PROXIES"] == "10.244.0.0/16,192.168.1.5"
    with pytest.raises(InvalidSpec, match="must be an IP address or a CIDR network"):
        _with(trattoria, gateway=gateway | {"trustedProxies": ["ingress.example"]})


def test_payment_reads_stripe_keys_from_the_secret_and_sends_customers_to_the_public_url(
    trattoria: Restaurant,
) -> None:
    env = _env(trattoria, "payment")

    assert env["STRIPE_API_KEY"] == {"secretKeyRef": {"name": "trattoria-stripe", "key": "api-key"}}
    assert env["STRIPE_WEBHOOK_SECRET"] == {
        "secretKeyRef": {"name": "trattoria-stripe", "key": "webhook-secret"}
    }
    assert env["STRIPE_API_BASE"] == "http://stripe-mock.oms-infra.svc:12111"
    public = "http://127.0.0.1:30080"
    assert env["STRIPE_SUCCESS_URL"] == f"{public}/orders/{{order_id}}?t={{access_token}}&paid=1"
    assert env["STRIPE_CANCEL_URL"] == f"{public}/orders/{{order_id}}?t={{access_token}}"
    assert env["PAYMENT_TEST_PAGE_URL"] == f"{public}/test-payments/{{order_id}}"


def test_in_development_without_a_public_url_customers_go_to_the_gateways_service() -> None:
    osteria = examples.restaurant("restaurant-configmap-menu.yaml", namespace="food")
    env = _env(osteria, "payment")

    assert env["OMS_MODE"] == "development"
    assert env["PAYMENT_TEST_PAGE_URL"] == (
        "http://osteria-gateway.food.svc:8080/test-payments/{order_id}"
    )
    assert "STRIPE_WEBHOOK_SECRET" not in env  # development accepts the placeholder


def test_the_kitchen_gets_its_cook_times_and_drain(trattoria: Restaurant) -> None:
    kitchen = {"workers": 3, "secondsPerItem": 0.5, "longestCookSeconds": 90, "drainSeconds": 30}
    env = _env(_with(trattoria, kitchen=kitchen), "kitchen")

    assert env["KITCHEN_WORKERS"] == "1"  # one cook per pod; pods are spec.kitchen.workers
    assert env["KITCHEN_SECONDS_PER_ITEM"] == "0.5"
    assert env["KITCHEN_LONGEST_COOK_SECONDS"] == "90.0"
    assert env["KITCHEN_DRAIN_SECONDS"] == "30.0"


def test_grpc_tls_files_are_named_in_cert_managers_layout(trattoria: Restaurant) -> None:
    restaurant = _with(trattoria, grpcTLS={"secretName": "trattoria-grpc-tls"})
    for service in naming.SERVICES:
        env = _env(restaurant, service)

        assert env["GRPC_TLS_CERT_FILE"] == "/etc/oms/tls/tls.crt"
        assert env["GRPC_TLS_KEY_FILE"] == "/etc/oms/tls/tls.key"
        assert env["GRPC_TLS_CA_FILE"] == "/etc/oms/tls/ca.crt"
        assert "GRPC_TLS_INSECURE" not in env
    assert "GRPC_TLS_CERT_FILE" not in _env(trattoria, "order")


def test_plaintext_grpc_only_where_the_spec_says_it_is_intended(trattoria: Restaurant) -> None:
    osteria = examples.restaurant("restaurant-configmap-menu.yaml", namespace="food")
    assert trattoria.spec.grpc_tls is not None
    assert trattoria.spec.grpc_tls.insecure  # the demo's explicit opt-out
    for service in naming.SERVICES:
        opted_out, development = _env(trattoria, service), _env(osteria, service)

        assert opted_out["GRPC_TLS_INSECURE"] == "true"
        assert "GRPC_TLS_CERT_FILE" not in opted_out
        # Development allows plaintext by itself: nothing claims it was chosen.
        assert development["OMS_MODE"] == "development"
        assert "GRPC_TLS_INSECURE" not in development
