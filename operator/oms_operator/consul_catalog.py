"""A restaurant's Kubernetes Services in the Consul catalog.

Each Kubernetes Service is registered on an external node of its own restaurant
(`oms-<namespace>-<restaurant>`, no agent, so anti-entropy never removes it) as
`<namespace>-<restaurant>-<service>-svc`, with no health check: Consul counts an entry
without checks as passing, so these names must never be the ones callers resolve. The pods
register themselves as `<namespace>-<restaurant>-<service>` (CONSUL_SERVICE_PREFIX), each
with its own HTTP check of `/readyz`, and that is all the services look up; the `-svc`
suffix keeps the two apart (no service is named `svc`). The entries are for people and
tools outside the cluster: they name the Service's DNS name and port, and the restaurant in
their meta. Deregistering the node removes every entry in one call.
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
                    "Tags": ["oms", "kubernetes-service", service],
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
    """Register (idempotently) every service, and remove any other entry of the node (e.g.
    one an older operator named as the pods do); returns how many. Raises httpx errors."""
    base = _base(restaurant.spec.consul.address)
    entries = registrations(restaurant)
    for entry in entries:
        response = await http.put(f"{base}/v1/catalog/register", json=entry)
        response.raise_for_status()
    node = naming.consul_node(restaurant.namespace, restaurant.name)
    response = await http.get(f"{base}/v1/catalog/node-services/{node}")
    response.raise_for_status()
    listed = (response.json() or {}).get("Services") or []
    wanted = {entry["Service"]["ID"] for entry in entries}
    for stale in {service["ID"] for service in listed} - wanted:
        response = await http.put(
            f"{base}/v1/catalog/deregister", json={"Node": node, "ServiceID": stale}
        )
        response.raise_for_status()
    return len(entries)


async def deregister(http: httpx.AsyncClient, address: str, node: str) -> None:
    """Remove the restaurant's node and so all its entries (a no-op when absent)."""
    response = await http.put(f"{_base(address)}/v1/catalog/deregister", json={"Node": node})
    response.raise_for_status()
