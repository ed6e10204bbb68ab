"""Owned Deployments: put back what was deleted or changed by hand, and keep status current.

Every event of a Deployment the operator manages lands here. A deleted one is re-applied
from its Restaurant's spec, so are replicas or an image that differ from it (e.g. after
`kubectl scale`); then the Restaurant's status is recomputed, which is how it follows pods
becoming available. Nothing is restored for a Restaurant that is gone or being deleted.
"""

from __future__ import annotations

import asyncio
from typing import Any, cast

import kopf
from kubernetes.client.exceptions import ApiException

from oms_operator import kube, manifests, naming, state, status
from oms_operator.model import InvalidSpec, Restaurant

COMPONENT = "app.kubernetes.io/component"
INSTANCE = "app.kubernetes.io/instance"


def _owner_uid(body: kopf.Body) -> str | None:
    for ref in body.metadata.get("ownerReferences", []) or []:
        if ref.get("kind") == naming.KIND and ref.get("apiVersion") == naming.API_VERSION:
            uid: str = ref.get("uid")
            return uid
    return None


def drift(body: kopf.Body, desired: manifests.Manifest) -> str | None:
    """What differs from the spec in the fields people change by hand, or None."""
    replicas = body.spec.get("replicas")
    if replicas != desired["spec"]["replicas"]:
        return f"replicas {replicas}, spec says {desired['spec']['replicas']}"
    containers = body.spec.get("template", {}).get("spec", {}).get("containers", [])
    want = desired["spec"]["template"]["spec"]["containers"][0]["image"]
    images = [c.get("image") for c in containers]
    if images != [want]:
        return f"image {', '.join(map(str, images))}, spec says {want}"
    return None


@kopf.on.event(
    "apps", "v1", "deployments", labels={"app.kubernetes.io/managed-by": naming.MANAGED_BY}
)
async def deployment_changed(
    type: str | None,
    body: kopf.Body,
    namespace: str | None,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    restaurant_name = body.metadata.labels.get(INSTANCE)
    service = body.metadata.labels.get(COMPONENT)
    owner_uid = _owner_uid(body)
    if not restaurant_name or service not in naming.SERVICES or owner_uid is None:
        return
    namespace = state.namespaced(namespace)
    clients = state.clients(memo)
    try:
        parent = await asyncio.to_thread(
            kube.get_restaurant, clients.kube, namespace, restaurant_name
        )
    except ApiException as exc:
        logger.warning("drift.owner_unreadable", extra={"status": exc.status})
        return
    if parent is None or parent["metadata"].get("deletionTimestamp"):
        return  # garbage collection at work: let it be
    if parent["metadata"].get("uid") != owner_uid:
        return  # a leftover of an earlier Restaurant of the same name
    try:
        restaurant = Restaurant.parse(namespace, restaurant_name, parent.get("spec", {}))
    except InvalidSpec:
        return  # the reconcile handler reports it
    desired = manifests.deployment(restaurant, service)
    found = "deleted" if type == "DELETED" else drift(body, desired)
    if found is not None:
        owner = kopf.Body(cast(kopf.RawBody, parent))
        kopf.adopt(desired, owner=owner)
        try:
            await asyncio.to_thread(kube.apply, clients.kube, desired)
        except ApiException as exc:
            if kube.namespace_terminating(exc):
                return  # the namespace is going away with everything in it
            kopf.warn(
                owner, reason="DriftNotCorrected", message=f"{body.metadata.name}: {exc.reason}"
            )
            raise kopf.TemporaryError(f"re-applying {body.metadata.name}: {exc.reason}") from exc
        message = f"Deployment {body.metadata.name} was {found}: restored from spec"
        logger.info("drift.corrected", extra={"deployment": body.metadata.name, "found": found})
        kopf.info(owner, reason="DriftCorrected", message=message)
    await status.refresh(clients, namespace, restaurant_name)
