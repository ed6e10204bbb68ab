"""A restaurant's services in the Consul catalog.

Each Kubernetes Service is registered on an external node of its own restaurant
(`oms-<namespace>-<restaurant>`, no agent, so anti-entropy never removes it), as
`<namespace>-<restaurant>-<service>`: unique across the cluster (Consul's service names are
global) and never mixed with the instances the pods register themselves (`menu`, `order`,
...). Deregistering the node removes every entry in one call.
"""

from __future__ import annotations

from typing import Any

import httpx

from oms_operator import naming
from oms_operator.model import Restaurant


def _base(address: str) -> str:
    return address if address.startswith("http") else f"http://{address}"


def registrations(restaurant: Restaurant) -> list[dict[str, Any]]:
    """The catalog entries for one restaurant: one per platform service."""
    node = naming.consul_node(restaurant.namespace, restaurant.name)
    entries = []
    for service in naming.SERVICES:
        name = naming.child_name(restaurant.name, service)
        consul_name = naming.consul_service(restaurant.namespace, restaurant.name, service)
        port = naming.GATEWAY_PORT if service == naming.GATEWAY else naming.GRPC_PORT
        entries.append(
            {
                "Node": node,
                "Address": f"{restaurant.namespace}.svc",
                "NodeMeta": {
                    "external-node": "true",
                    "external-probe": "false",
                    "oms-restaurant": restaurant.name,
                    "oms-namespace": restaurant.namespace,
                },
                "Service": {
                    "ID": consul_name,
                    "Service": consul_name,
                    "Address": f"{name}.{restaurant.namespace}.svc",
                    "Port": port,
                    "Tags": ["oms", "kubernetes", service],
                    "Meta": {
                        "restaurant": restaurant.name,
                        "namespace": restaurant.namespace,
                        "component": service,
                        "managed-by": naming.MANAGED_BY,
                    },
                },
            }
        )
    return entries


async def register(http: httpx.AsyncClient, restaurant: Restaurant) -> int:
    """Register (idempotently) every service; returns how many. Raises httpx errors."""
    base = _base(restaurant.spec.consul.address)
    entries = registrations(restaurant)
    for entry in entries:
        response = await http.put(f"{base}/v1/catalog/register", json=entry)
        response.raise_for_status()
    return len(entries)


async def deregister(http: httpx.AsyncClient, address: str, node: str) -> None:
    """Remove the restaurant's node and so all its entries (a no-op when absent)."""
    response = await http.put(f"{_base(address)}/v1/catalog/deregister", json={"Node": node})
    response.raise_for_status()
