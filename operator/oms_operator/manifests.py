"""Pure builders of a Restaurant's children: plain dicts, ready for server-side apply.

Nothing here talks to a cluster; the handlers pass what these return through `kopf.adopt`
(owner references, namespace) and apply it. Every service runs the one image with
`python -m oms.<service>` and reads its settings from the environment variables below.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from oms_operator import naming
from oms_operator.model import Restaurant

Manifest = dict[str, Any]

# The services read these names through pydantic-settings (oms.platform.settings and each
# service's own section); the credentials are kept apart and joined by Kubernetes' $(VAR).
AMQP_USERNAME = "AMQP_USERNAME"
AMQP_PASSWORD = "AMQP_PASSWORD"  # noqa: S105 (a variable name, not a password)
RUN_AS_USER = 10001


def seed_document(restaurant: Restaurant) -> dict[str, Any]:
    """The seed file menu and stock load: `{"items": [...], "stock": {id: quantity}}`."""
    items = restaurant.spec.menu.items or ()
    return {
        "restaurant": restaurant.spec.display_name,
        "items": [
            {
                "id": item.id,
                "name": item.name,
                "description": item.description,
                "price_minor": item.price_minor,
                "currency": item.currency,
            }
            for item in items
        ],
        "stock": {item.id: item.stock for item in items if item.stock is not None},
    }


def menu_config_map(restaurant: Restaurant) -> Manifest | None:
    """The inline menu as a ConfigMap; None when the spec references a ConfigMap instead."""
    if restaurant.spec.menu.items is None:
        return None
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": naming.menu_config_map(restaurant.name),
            "namespace": restaurant.namespace,
            "labels": naming.labels(restaurant.name, "menu"),
        },
        "data": {naming.SEED_FILE: json.dumps(seed_document(restaurant), indent=2)},
    }


def _value(name: str, value: str) -> dict[str, Any]:
    return {"name": name, "value": value}


def _secret(name: str, secret: str, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}


def _platform_env(restaurant: Restaurant) -> list[dict[str, Any]]:
    spec = restaurant.spec
    rabbitmq = spec.rabbitmq
    credentials = rabbitmq.credentials_secret_ref
    amqp_url = (
        f"{rabbitmq.scheme}://$({AMQP_USERNAME}):$({AMQP_PASSWORD})"
        f"@{rabbitmq.host_port}/{restaurant.vhost}"
    )
    return [
        _secret(AMQP_USERNAME, credentials.name, credentials.username_key),
        _secret(AMQP_PASSWORD, credentials.name, credentials.password_key),
        _value("RABBITMQ_URL", amqp_url),
        _value("RABBITMQ_RETRY_DELAYS_MS", json.dumps(list(rabbitmq.retry_delays_ms))),
        _value("MONGODB_URL", spec.mongodb.url),
        _value("MONGODB_DATABASE", restaurant.database),
        _value("CONSUL_HTTP_ADDR", spec.consul.address),
        # Restaurants may share a Consul: each one's services find only each other.
        _value("CONSUL_SERVICE_PREFIX", restaurant.consul_prefix),
        _value("OTEL_EXPORTER_OTLP_ENDPOINT", spec.tracing.otlp_endpoint),
        _value("OTEL_SDK_DISABLED", "false" if spec.tracing.enabled else "true"),
        _value("LOG_LEVEL", spec.logging.level),
        _value("LOG_FORMAT", spec.logging.format),
    ]


def _grpc_env() -> list[dict[str, Any]]:
    return [
        _value("GRPC_HOST", "0.0.0.0"),  # noqa: S104 (a pod listens on its own IP)
        _value("GRPC_PORT", str(naming.GRPC_PORT)),
        # Consul tells the other services this pod's own address.
        _pod_ip("GRPC_ADVERTISE_HOST"),
    ]


def _pod_ip(name: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


def _service_env(restaurant: Restaurant, service: str) -> list[dict[str, Any]]:
    spec = restaurant.spec
    seed_path = f"{naming.SEED_DIR}/{naming.SEED_FILE}"
    if service == "menu":
        return [_value("MENU_SEED_FILE", seed_path)]
    if service == "stock":
        return [_value("STOCK_SEED_FILE", seed_path)]
    if service == "kitchen":
        # One cook per pod: spec.kitchen.workers is the Deployment's replicas (see README).
        return [
            _value("KITCHEN_WORKERS", "1"),
            _value("KITCHEN_SECONDS_PER_ITEM", str(spec.kitchen.seconds_per_item)),
        ]
    if service == "payment":
        env = [_value("STRIPE_API_BASE", spec.stripe.api_base)]
        ref = spec.stripe.secret_ref
        if ref is not None:
            env += [
                _secret("STRIPE_API_KEY", ref.name, ref.api_key_key),
                _secret("STRIPE_WEBHOOK_SECRET", ref.name, ref.webhook_secret_key),
            ]
        return env
    if service == naming.GATEWAY:
        env = [
            _value("GATEWAY_HOST", "0.0.0.0"),  # noqa: S104
            _value("GATEWAY_PORT", str(naming.GATEWAY_PORT)),
            _pod_ip("GATEWAY_ADVERTISE_HOST"),
        ]
        token = spec.gateway.admin_token_secret_ref
        if token is not None:
            env.append(_secret("GATEWAY_ADMIN_TOKEN", token.name, token.key))
        return env
    return []


def environment(restaurant: Restaurant, service: str) -> list[dict[str, Any]]:
    grpc = _grpc_env() if service in naming.GRPC_SERVICES else []
    return [*_platform_env(restaurant), *grpc, *_service_env(restaurant, service)]


def _probes(service: str) -> dict[str, Any]:
    if service == naming.GATEWAY:
        port: dict[str, Any] = {"port": "http"}
        return {
            "readinessProbe": {"httpGet": {"path": "/readyz", **port}, "periodSeconds": 5},
            "livenessProbe": {
                "httpGet": {"path": "/healthz", **port},
                "initialDelaySeconds": 10,
                "periodSeconds": 10,
            },
        }
    grpc = {"port": naming.GRPC_PORT}
    return {
        "readinessProbe": {"grpc": grpc, "periodSeconds": 5},
        "livenessProbe": {"grpc": grpc, "initialDelaySeconds": 10, "periodSeconds": 10},
    }


def _seed_volume(restaurant: Restaurant) -> dict[str, Any]:
    ref = restaurant.spec.menu.config_map_ref
    source: dict[str, Any]
    if ref is None:
        source = {"name": naming.menu_config_map(restaurant.name)}
    else:
        source = {"name": ref.name, "items": [{"key": ref.key, "path": naming.SEED_FILE}]}
    return {"name": "seed", "configMap": source}


def _menu_hash(restaurant: Restaurant) -> str:
    """Changes with the inline menu, so menu and stock pods restart to load it."""
    document = json.dumps(seed_document(restaurant), sort_keys=True).encode()
    return hashlib.sha256(document).hexdigest()[:16]


def deployment(restaurant: Restaurant, service: str) -> Manifest:
    name = naming.child_name(restaurant.name, service)
    is_gateway = service == naming.GATEWAY
    port = naming.GATEWAY_PORT if is_gateway else naming.GRPC_PORT
    container: dict[str, Any] = {
        "name": service,
        "image": restaurant.spec.image.reference,
        "imagePullPolicy": restaurant.spec.image.pull_policy,
        "command": ["python", "-m", f"oms.{service}"],
        "ports": [{"name": "http" if is_gateway else "grpc", "containerPort": port}],
        "env": environment(restaurant, service),
        "resources": {
            "requests": dict(restaurant.spec.resources.requests),
            "limits": dict(restaurant.spec.resources.limits),
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
        **_probes(service),
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    annotations: dict[str, str] = {}
    if service in ("menu", "stock"):
        container["volumeMounts"].append(
            {"name": "seed", "mountPath": naming.SEED_DIR, "readOnly": True}
        )
        volumes.append(_seed_volume(restaurant))
        annotations["oms.dev/menu-hash"] = _menu_hash(restaurant)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": restaurant.namespace,
            "labels": naming.labels(restaurant.name, service),
        },
        "spec": {
            "replicas": restaurant.replicas(service),
            "selector": {"matchLabels": naming.selector_labels(restaurant.name, service)},
            "template": {
                "metadata": {
                    "labels": naming.labels(restaurant.name, service),
                    "annotations": annotations,
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def service(restaurant: Restaurant, service: str) -> Manifest:
    is_gateway = service == naming.GATEWAY
    port: dict[str, Any] = (
        {"name": "http", "port": naming.GATEWAY_PORT, "targetPort": "http"}
        if is_gateway
        else {
            "name": "grpc",
            "port": naming.GRPC_PORT,
            "targetPort": "grpc",
            "appProtocol": "grpc",
        }
    )
    spec: dict[str, Any] = {
        "type": "ClusterIP",
        "selector": naming.selector_labels(restaurant.name, service),
        "ports": [port],
    }
    if is_gateway:
        spec["type"] = restaurant.spec.gateway.service_type
        if restaurant.spec.gateway.node_port is not None and spec["type"] != "ClusterIP":
            port["nodePort"] = restaurant.spec.gateway.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": naming.child_name(restaurant.name, service),
            "namespace": restaurant.namespace,
            "labels": naming.labels(restaurant.name, service),
        },
        "spec": spec,
    }


def children(restaurant: Restaurant) -> list[Manifest]:
    """Everything the restaurant runs on: the menu ConfigMap, then a Deployment and a
    Service per platform service."""
    config_map = menu_config_map(restaurant)
    manifests = [config_map] if config_map is not None else []
    for name in naming.SERVICES:
        manifests += [deployment(restaurant, name), service(restaurant, name)]
    return manifests
