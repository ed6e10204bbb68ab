"""The spec model: the CRD's defaults and rules, read the same way in Python."""

from __future__ import annotations

from typing import Any

import pytest

from oms.gateway.app import GatewaySettings
from oms.kitchen.app import KitchenSettings
from oms.platform.settings import OpsSettings, RabbitMQSettings, TracingSettings
from oms_operator import naming
from oms_operator.model import (
    GRPC_TLS_CHOICE,
    PRODUCTION_NEEDS,
    PRODUCTION_NEEDS_TLS,
    GrpcTLS,
    InvalidSpec,
    Restaurant,
)
from tests.operator import examples

MINIMAL: dict[str, Any] = {
    "displayName": "Minimal",
    "mode": "development",
    "menu": {"configMapRef": {"name": "menu"}},
    "rabbitmq": {
        "url": "amqp://rabbitmq:5672",
        "managementUrl": "http://rabbitmq:15672",
        "credentialsSecretRef": {"name": "rabbitmq"},
    },
    "mongodb": {"url": "mongodb://mongodb:27017/"},
    "consul": {"address": "consul:8500"},
}


def _crd_default(*path: str) -> Any:
    node = examples.spec_schema()
    for key in path:
        node = node["properties"][key]
    return node["default"]


def test_the_examples_parse() -> None:
    trattoria = examples.restaurant()
    osteria = examples.restaurant("restaurant-configmap-menu.yaml")

    assert trattoria.spec.display_name == "Trattoria Demo"
    assert trattoria.spec.kitchen.workers == 2
    assert osteria.spec.menu.config_map_ref is not None


def test_defaults_match_the_crd_and_the_services() -> None:
    spec = Restaurant.parse("ns", "minimal", MINIMAL).spec

    assert spec.kitchen.workers == _crd_default("kitchen", "workers")
    assert spec.kitchen.seconds_per_item == _crd_default("kitchen", "secondsPerItem")
    assert spec.image.repository == _crd_default("image", "repository")
    assert spec.image.tag == _crd_default("image", "tag")
    assert spec.replicas.order == _crd_default("replicas", "order")
    assert spec.tracing.otlp_endpoint == _crd_default("tracing", "otlpEndpoint")
    assert spec.logging.format == _crd_default("logging", "format")
    # The queues the operator declares are the ones the services will consume from.
    delays = _crd_default("rabbitmq", "retryDelaysMs")
    assert list(spec.rabbitmq.retry_delays_ms) == delays == RabbitMQSettings().retry_delays_ms


def test_kitchen_gateway_and_tracing_defaults_are_the_services_own() -> None:
    spec = Restaurant.parse("ns", "minimal", MINIMAL).spec
    kitchen, gateway, tracing = KitchenSettings(), GatewaySettings(), TracingSettings()

    assert spec.kitchen.longest_cook_seconds == kitchen.longest_cook_seconds
    assert spec.kitchen.longest_cook_seconds == _crd_default("kitchen", "longestCookSeconds")
    assert spec.kitchen.drain_seconds == kitchen.drain_seconds
    assert spec.kitchen.drain_seconds == _crd_default("kitchen", "drainSeconds")
    assert spec.kitchen.seconds_per_item == kitchen.seconds_per_item
    limits = spec.gateway.rate_limits
    assert limits.orders_per_minute == gateway.order_rate_per_minute
    assert limits.order_burst == gateway.order_burst
    assert limits.sessions_per_minute == gateway.session_rate_per_minute
    assert limits.session_burst == gateway.session_burst
    assert limits.webhooks_per_second == gateway.webhook_rate_per_second
    assert limits.webhook_burst == gateway.webhook_burst
    crd_limits = examples.spec_schema()["properties"]["gateway"]["properties"]["rateLimits"]
    crd_defaults = {name: p["default"] for name, p in crd_limits["properties"].items()}
    assert crd_defaults == limits.model_dump(by_alias=True)
    assert spec.tracing.sampler == tracing.traces_sampler == _crd_default("tracing", "sampler")
    assert spec.tracing.sampler_arg == tracing.traces_sampler_arg
    assert naming.OPS_PORT == OpsSettings().port


def test_production_needs_the_secrets_and_public_url_the_services_insist_on() -> None:
    production = {**MINIMAL, "mode": "production"}

    with pytest.raises(InvalidSpec, match=r"spec\.gateway\.sessionSecretRef"):
        Restaurant.parse("ns", "r", production)
    complete = {
        **production,
        "gateway": {
            "adminTokenSecretRef": {"name": "g"},
            "sessionSecretRef": {"name": "g"},
            "publicUrl": "https://r.example.com",
        },
        "stripe": {"secretRef": {"name": "s"}},
        "grpcTLS": {"secretName": "tls"},
    }
    assert Restaurant.parse("ns", "r", complete).spec.mode == "production"
    rules = examples.spec_schema()["x-kubernetes-validations"]
    assert [r["message"] for r in rules] == [PRODUCTION_NEEDS, PRODUCTION_NEEDS_TLS]


def test_production_needs_mutual_tls_or_plaintext_said_to_be_intended() -> None:
    production = {
        **MINIMAL,
        "mode": "production",
        "gateway": {
            "adminTokenSecretRef": {"name": "g"},
            "sessionSecretRef": {"name": "g"},
            "publicUrl": "https://r.example.com",
        },
        "stripe": {"secretRef": {"name": "s"}},
    }

    with pytest.raises(InvalidSpec, match=r"needs spec\.grpcTLS"):
        Restaurant.parse("ns", "r", production)
    for neither_or_both in ({}, {"insecure": False}, {"secretName": "tls", "insecure": True}):
        with pytest.raises(InvalidSpec, match=r"set exactly one of spec\.grpcTLS\.secretName"):
            Restaurant.parse("ns", "r", production | {"grpcTLS": neither_or_both})
    tls = Restaurant.parse("ns", "r", production | {"grpcTLS": {"secretName": "tls"}})
    plaintext = Restaurant.parse("ns", "r", production | {"grpcTLS": {"insecure": True}})
    assert tls.spec.grpc_tls == GrpcTLS(secret_name="tls")
    assert plaintext.spec.grpc_tls == GrpcTLS(insecure=True)
    # Development needs neither.
    assert Restaurant.parse("ns", "r", MINIMAL).spec.grpc_tls is None
    grpc_tls = examples.spec_schema()["properties"]["grpcTLS"]
    assert [r["message"] for r in grpc_tls["x-kubernetes-validations"]] == [GRPC_TLS_CHOICE]


def test_names_derive_from_namespace_and_restaurant() -> None:
    restaurant = Restaurant.parse("east-side", "la-pergola", MINIMAL)

    assert restaurant.vhost == "oms-east-side-la-pergola"
    assert restaurant.database == "oms_east_side_la_pergola"
    assert restaurant.spec.rabbitmq.host_port == "rabbitmq:5672"


def test_explicit_vhost_and_database_win() -> None:
    spec = {
        **MINIMAL,
        "rabbitmq": {**MINIMAL["rabbitmq"], "vhost": "shared", "url": "amqps://mq"},
        "mongodb": {"url": "mongodb://m/", "database": "mine"},
    }
    restaurant = Restaurant.parse("ns", "r", spec)

    assert (restaurant.vhost, restaurant.database) == ("shared", "mine")
    assert restaurant.spec.rabbitmq.host_port == "mq:5672"
    assert restaurant.spec.rabbitmq.scheme == "amqps"


@pytest.mark.parametrize(
    "menu",
    [
        {},
        {"items": [], "configMapRef": {"name": "m"}},
        {
            "configMapRef": {"name": "m"},
            "items": [{"id": "a", "name": "A", "priceMinor": 1, "currency": "EUR"}],
        },
    ],
)
def test_a_menu_needs_exactly_one_source(menu: dict[str, Any]) -> None:
    with pytest.raises(InvalidSpec, match="exactly one"):
        Restaurant.parse("ns", "r", {**MINIMAL, "menu": menu})
