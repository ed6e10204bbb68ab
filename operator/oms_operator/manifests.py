"""Pure builders of a Restaurant's children: plain dicts, ready for server-side apply.

Nothing here talks to a cluster; the handlers pass what these return through `kopf.adopt`
(owner references, namespace) and apply it. Every service runs the one image with
`python -m oms.<service>` and reads its settings from the environment (`environment`).
"""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from oms_operator import naming
from oms_operator.environment import environment
from oms_operator.model import Restaurant
from oms_operator.network_policies import network_policies

Manifest = dict[str, Any]

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


def _probes() -> dict[str, Any]:
    # Every process, the gateway too, answers on its ops port: /readyz turns 503 while
    # MongoDB or RabbitMQ is down (the pod leaves its Service), /healthz while it runs.
    port = "ops"
    return {
        "readinessProbe": {
            "httpGet": {"path": "/readyz", "port": port},
            "periodSeconds": 5,
            "failureThreshold": 2,
        },
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": port},
            "initialDelaySeconds": 10,
            "periodSeconds": 10,
            "failureThreshold": 3,
        },
    }


def grace_seconds(restaurant: Restaurant, service: str) -> int:
    """terminationGracePeriodSeconds: the preStop pause, the longest the process may take
    to stop, and a margin, so that SIGKILL never cuts a drain short."""
    if service == "kitchen":
        kitchen = restaurant.spec.kitchen
        # A cook finishes within KITCHEN_DRAIN_SECONDS or hands back; never longer than
        # KITCHEN_LONGEST_COOK_SECONDS (the kitchen caps an order's cooking there).
        stopping = max(kitchen.longest_cook_seconds, kitchen.drain_seconds)
    else:
        stopping = naming.CONSUMER_GRACE_SECONDS
    return naming.PRE_STOP_SECONDS + math.ceil(stopping) + naming.SHUTDOWN_MARGIN_SECONDS


def _lifecycle() -> dict[str, Any]:
    # Kubernetes takes a terminating pod out of its Service's endpoints while it signals it;
    # the pause keeps the process serving (and the kitchen cooking) until they agree.
    return {"preStop": {"sleep": {"seconds": naming.PRE_STOP_SECONDS}}}


def _scrape_annotations() -> dict[str, str]:
    """The Prometheus convention (no ServiceMonitor): scrape this pod's ops port."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(naming.OPS_PORT),
        "prometheus.io/path": "/metrics",
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


def _tls_volume(restaurant: Restaurant) -> dict[str, Any] | None:
    tls = restaurant.spec.grpc_tls
    if tls is None or tls.secret_name is None:
        return None
    # Group-readable only, by the pod's fsGroup: the key is nobody else's.
    return {"name": "grpc-tls", "secret": {"secretName": tls.secret_name, "defaultMode": 0o440}}


def deployment(restaurant: Restaurant, service: str) -> Manifest:
    name = naming.child_name(restaurant.name, service)
    is_gateway = service == naming.GATEWAY
    port = naming.GATEWAY_PORT if is_gateway else naming.GRPC_PORT
    container: dict[str, Any] = {
        "name": service,
        "image": restaurant.spec.image.reference,
        "imagePullPolicy": restaurant.spec.image.pull_policy,
        "command": ["python", "-m", f"oms.{service}"],
        "ports": [
            {"name": "http" if is_gateway else "grpc", "containerPort": port},
            {"name": "ops", "containerPort": naming.OPS_PORT},
        ],
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
        "lifecycle": _lifecycle(),
        **_probes(),
    }
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    annotations = _scrape_annotations()
    if service in ("menu", "stock"):
        container["volumeMounts"].append(
            {"name": "seed", "mountPath": naming.SEED_DIR, "readOnly": True}
        )
        volumes.append(_seed_volume(restaurant))
        annotations["oms.dev/menu-hash"] = _menu_hash(restaurant)
    tls = _tls_volume(restaurant)
    if tls is not None:
        container["volumeMounts"].append(
            {"name": tls["name"], "mountPath": naming.TLS_DIR, "readOnly": True}
        )
        volumes.append(tls)
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
                    "terminationGracePeriodSeconds": grace_seconds(restaurant, service),
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "fsGroup": RUN_AS_USER,
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
    """Everything the restaurant runs on: the menu ConfigMap, the NetworkPolicies (before
    the pods they guard), then a Deployment and a Service per platform service."""
    config_map = menu_config_map(restaurant)
    manifests = [config_map] if config_map is not None else []
    manifests += network_policies(restaurant)
    for name in naming.SERVICES:
        manifests += [deployment(restaurant, name), service(restaurant, name)]
    return manifests
