"""The Kubernetes API through the official (synchronous) client.

Every function here blocks on HTTP, so handlers call them with `asyncio.to_thread` and the
event loop stays free. Children are written with server-side apply under one field manager:
one idempotent call creates or updates, and `force` takes back fields someone changed by hand
(e.g. `kubectl scale`), which is how drift is corrected.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from oms_operator import naming

Body = dict[str, Any]
APPLY = "application/apply-patch+yaml"  # a dict body is sent as JSON, which is YAML
MERGE = "application/merge-patch+json"


@dataclass(frozen=True)
class Kube:
    api: client.ApiClient
    core: client.CoreV1Api
    apps: client.AppsV1Api
    custom: client.CustomObjectsApi
    networking: client.NetworkingV1Api

    def close(self) -> None:
        self.api.close()  # type: ignore[no-untyped-call]


def connect() -> Kube:
    """In a pod, its ServiceAccount; elsewhere, $KUBECONFIG or ~/.kube/config."""
    configuration = client.Configuration()
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    else:
        config.load_kube_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    api = client.ApiClient(configuration)
    return Kube(
        api,
        client.CoreV1Api(api),
        client.AppsV1Api(api),
        client.CustomObjectsApi(api),
        client.NetworkingV1Api(api),
    )


def is_not_found(exc: BaseException) -> bool:
    return isinstance(exc, ApiException) and exc.status == 404


def namespace_terminating(exc: BaseException) -> bool:
    """Whether the API server refused because the object's namespace is being deleted."""
    body = getattr(exc, "body", None) or ""
    return (
        isinstance(exc, ApiException) and exc.status == 403 and "NamespaceTerminating" in str(body)
    )


def _json(response: Any) -> Body:
    document: Body = json.loads(response.data)
    return document


def apply(kube: Kube, manifest: Mapping[str, Any]) -> None:
    """Create or update one child (Deployment, Service, ConfigMap or NetworkPolicy) by
    server-side apply."""
    kind = manifest["kind"]
    name = manifest["metadata"]["name"]
    namespace = manifest["metadata"]["namespace"]
    method = {
        "Deployment": kube.apps.patch_namespaced_deployment,
        "Service": kube.core.patch_namespaced_service,
        "ConfigMap": kube.core.patch_namespaced_config_map,
        "NetworkPolicy": kube.networking.patch_namespaced_network_policy,
    }[kind]
    method(
        name,
        namespace,
        dict(manifest),
        field_manager=naming.FIELD_MANAGER,
        force=True,
        _content_type=APPLY,
        _preload_content=False,
    )


def delete_network_policy(kube: Kube, namespace: str, name: str) -> bool:
    """Delete one of a restaurant's NetworkPolicies; False when it was not there."""
    try:
        kube.networking.delete_namespaced_network_policy(name, namespace, _preload_content=False)
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def get_restaurant(kube: Kube, namespace: str, name: str) -> Body | None:
    try:
        response = kube.custom.get_namespaced_custom_object(
            naming.GROUP, naming.VERSION, namespace, naming.PLURAL, name, _preload_content=False
        )
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return _json(response)


def patch_restaurant_status(kube: Kube, namespace: str, name: str, status: Body) -> None:
    # Custom resources take no strategic merge patch: say merge patch explicitly.
    kube.custom.patch_namespaced_custom_object_status(
        naming.GROUP,
        naming.VERSION,
        namespace,
        naming.PLURAL,
        name,
        {"status": status},
        _content_type=MERGE,
        _preload_content=False,
    )


def list_deployments(kube: Kube, namespace: str, restaurant: str) -> list[Body]:
    response = kube.apps.list_namespaced_deployment(
        namespace, label_selector=naming.owned_selector(restaurant), _preload_content=False
    )
    items: list[Body] = _json(response).get("items", [])
    return items


def read_secret(kube: Kube, namespace: str, name: str, keys: tuple[str, ...]) -> dict[str, str]:
    """The decoded values of `keys`; KeyError names a key the Secret lacks."""
    response = kube.core.read_namespaced_secret(name, namespace, _preload_content=False)
    data: dict[str, str] = _json(response).get("data") or {}
    missing = [key for key in keys if key not in data]
    if missing:
        raise KeyError(f"Secret {namespace}/{name} has no key {', '.join(missing)}")
    return {key: base64.b64decode(data[key]).decode() for key in keys}
