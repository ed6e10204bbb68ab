"""Every container the operator and the platform chart make starts with what it is given:
each service's Settings, built from exactly its container's environment, read every
variable, parse every value, leave nothing at a loopback default, and pass the service's
own start-up checks (production refuses placeholder secrets)."""

from __future__ import annotations

from typing import Any

import pytest

from oms_operator import manifests, naming
from oms_operator.model import Restaurant
from tests.deploy import service_env
from tests.operator import charts, examples


def _problems(container: dict[str, Any]) -> list[str]:
    command = container["command"]
    assert command[:2] == ["python", "-m"], command
    service = command[2].removeprefix("oms.")
    env, found = service_env.kubernetes_env(container["env"])
    helpers = service_env.referenced(container["env"])
    return found + service_env.problems(service, env, helpers=helpers)


def _restaurants() -> dict[str, Restaurant]:
    trattoria = examples.restaurant_document()["spec"]
    return {
        "trattoria (production, plaintext gRPC on purpose)": examples.restaurant(namespace="food"),
        "osteria (development)": examples.restaurant(
            "restaurant-configmap-menu.yaml", namespace="food"
        ),
        "trattoria with gRPC TLS, no tracing": Restaurant.parse(
            "food",
            "trattoria",
            trattoria
            | {"grpcTLS": {"secretName": charts.TLS_SECRET}, "tracing": {"enabled": False}},
        ),
    }


@pytest.mark.parametrize("restaurant", sorted(_restaurants()))
@pytest.mark.parametrize("service", naming.SERVICES)
def test_the_operators_containers_start_with_their_environment(
    restaurant: str, service: str
) -> None:
    deployment = manifests.deployment(_restaurants()[restaurant], service)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]

    assert _problems(container) == []


CHART_VALUES = {
    "production (gRPC TLS)": ["--set", charts.PRODUCTION],
    "production, plaintext gRPC on purpose": ["--set", charts.PRODUCTION_PLAINTEXT],
    "development": ["--set", "mode=development,menu.existingConfigMap=menu"],
}


@pytest.mark.parametrize("values", sorted(CHART_VALUES))
def test_the_platform_charts_containers_start_with_their_environment(values: str) -> None:
    rendered = charts.containers(charts.render("oms", *CHART_VALUES[values]))

    assert sorted(rendered) == sorted(naming.SERVICES)
    found = {service: _problems(container) for service, container in rendered.items()}
    assert found == {service: [] for service in rendered}


def test_a_stray_variable_a_missing_secret_and_a_loopback_default_are_each_caught() -> None:
    trattoria = examples.restaurant(namespace="food")
    (container,) = manifests.deployment(trattoria, "gateway")["spec"]["template"]["spec"][
        "containers"
    ]
    env = [e for e in container["env"] if e["name"] not in ("GATEWAY_SESSION_SECRET", "OPS_HOST")]
    broken = {**container, "env": [*env, {"name": "RABBITMQ_EXCHANGE", "value": "oms"}]}

    found = "\n".join(_problems(broken))

    assert "RABBITMQ_EXCHANGE is not a setting oms.gateway reads" in found
    assert "OPS_HOST is 127.0.0.1" in found
    assert "oms.gateway refuses to start (exit 78)" in found


def test_plaintext_grpc_nobody_asked_for_in_production_is_caught() -> None:
    trattoria = examples.restaurant(namespace="food")
    (container,) = manifests.deployment(trattoria, "order")["spec"]["template"]["spec"][
        "containers"
    ]
    env = [e for e in container["env"] if e["name"] != "GRPC_TLS_INSECURE"]

    found = _problems({**container, "env": env})

    assert found == ["oms.order refuses to start (exit 78); the platform's: see stderr"]
