"""Writes a Restaurant's status from what its Deployments report.

Called after each reconciliation (with the generation it applied, or the error it met), on
every event of an owned Deployment, and by the periodic resync. Reads and writes for one
restaurant are serialised, so an older reading never overwrites a newer one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from oms_operator import assessment, kube, naming
from oms_operator.model import InvalidSpec, Restaurant
from oms_operator.state import Clients


class _Keep:
    """Leave `lastError` as it is."""


KEEP: Final = _Keep()


async def refresh(
    clients: Clients,
    namespace: str,
    name: str,
    *,
    observed_generation: int | None = None,
    error: Mapping[str, str] | _Keep | None = KEEP,
) -> dict[str, Any] | None:
    """Recompute and (if it changed) patch the status; returns it, or None if gone."""
    async with clients.status_locks[(namespace, name)]:
        body = await asyncio.to_thread(kube.get_restaurant, clients.kube, namespace, name)
        if body is None or body["metadata"].get("deletionTimestamp"):
            return None
        current: dict[str, Any] = body.get("status") or {}
        generation = int(body["metadata"].get("generation", 1))
        observed = observed_generation or current.get("observedGeneration")
        last_error = current.get("lastError") if isinstance(error, _Keep) else error
        desired = dict.fromkeys(naming.SERVICES, 0)
        restaurant: Restaurant | None = None
        try:
            restaurant = Restaurant.parse(namespace, name, body.get("spec", {}))
        except InvalidSpec as exc:
            last_error = {"reason": "InvalidSpec", "message": str(exc)[:1000]}
        else:
            desired = {service: restaurant.replicas(service) for service in naming.SERVICES}
        deployments = await asyncio.to_thread(kube.list_deployments, clients.kube, namespace, name)
        by_service = {
            d["metadata"]["labels"].get("app.kubernetes.io/component"): d for d in deployments
        }
        states = [
            assessment.service_state(service, desired[service], by_service.get(service))
            for service in naming.SERVICES
        ]
        kitchen = by_service.get("kitchen", {}).get("status", {}).get("readyReplicas") or 0
        assessed = assessment.assess(
            generation=generation,
            observed_generation=observed,
            states=states,
            kitchen_ready=kitchen,
            error=last_error,
            previous_conditions=current.get("conditions") or [],
            now=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        wanted = {**assessed, "observedGeneration": observed, "lastError": last_error}
        if observed_generation is not None and restaurant is not None:
            wanted |= {"vhost": restaurant.vhost, "database": restaurant.database}
        if all(current.get(key) == value for key, value in wanted.items()):
            return current
        await asyncio.to_thread(kube.patch_restaurant_status, clients.kube, namespace, name, wanted)
        return {**current, **wanted}
