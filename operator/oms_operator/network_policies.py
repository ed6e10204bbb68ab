"""Pure: a NetworkPolicy per service that allows only the documented edges (README).

Inside a restaurant: anyone reaches the gateway's HTTP port, and each gRPC port takes calls
only from the services that make them (`naming.CALLS`). Out of it: every service reaches
RabbitMQ, Consul, Jaeger (while tracing is on) and DNS, every service with a database
MongoDB, and the payment service Stripe, each on the port its address in the spec names,
at the peers `spec.networkPolicy.peers` lists (any address when empty). The ops port takes
Prometheus from the monitoring namespace and Consul's checks from Consul's peers.

Ports are numbers, never names: a name in an egress rule means the destination pod's port,
which an address outside the cluster does not have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from oms_operator import naming
from oms_operator.model import Restaurant
from oms_operator.network_spec import Peer

Rule = dict[str, Any]
NAMESPACE_LABEL = "kubernetes.io/metadata.name"
DNS_PORT = 53
MONGODB_PORT = 27017


def _tcp(port: int) -> dict[str, Any]:
    return {"protocol": "TCP", "port": port}


def url_port(url: str, default: int) -> int:
    """The port of `scheme://host[:port]/...` (or `host:port`); `default` when it has none."""
    address = url if "://" in url else f"tcp://{url}"
    port = urlsplit(address).port
    if port is not None:
        return port
    return {"https": 443, "http": 80}.get(urlsplit(address).scheme, default)


def mongodb_ports(url: str) -> list[int]:
    """Every port of a (possibly multi-host) MongoDB URL; SRV records name 27017 here."""
    if url.startswith("mongodb+srv://"):
        return [MONGODB_PORT]
    hosts = url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1]
    ports = {url_port(host, MONGODB_PORT) for host in hosts.split(",")}
    return sorted(ports)


def _to(peers: Sequence[Peer], ports: list[dict[str, Any]]) -> Rule:
    # No peers: any address, on these ports only.
    return {"to": [dict(p) for p in peers], "ports": ports} if peers else {"ports": ports}


def _from(peers: Sequence[Peer], ports: list[dict[str, Any]]) -> Rule:
    return {"from": [dict(p) for p in peers], "ports": ports} if peers else {"ports": ports}


def _pods(restaurant: Restaurant, services: Sequence[str]) -> list[Peer]:
    return [
        {"podSelector": {"matchLabels": naming.selector_labels(restaurant.name, service)}}
        for service in services
    ]


def ingress(restaurant: Restaurant, service: str) -> list[Rule]:
    settings = restaurant.spec.network_policy
    rules: list[Rule] = []
    if service == naming.GATEWAY:
        rules.append({"ports": [_tcp(naming.GATEWAY_PORT)]})  # the public API: anyone
    callers = [caller for caller, callees in naming.CALLS.items() if service in callees]
    if callers:
        rules.append(_from(_pods(restaurant, callers), [_tcp(naming.GRPC_PORT)]))
    ops = [_tcp(naming.OPS_PORT)]
    if settings.monitoring_namespace:
        namespace = {NAMESPACE_LABEL: settings.monitoring_namespace}
        rules.append({"from": [{"namespaceSelector": {"matchLabels": namespace}}], "ports": ops})
    rules.append(_from(settings.peers.consul, ops))  # Consul's HTTP checks of /readyz
    return rules


def egress(restaurant: Restaurant, service: str) -> list[Rule]:
    spec = restaurant.spec
    peers = spec.network_policy.peers
    rules: list[Rule] = []
    callees = naming.CALLS.get(service, ())
    if callees:
        rules.append({"to": _pods(restaurant, callees), "ports": [_tcp(naming.GRPC_PORT)]})
    rules.append(_to(peers.rabbitmq, [_tcp(url_port(spec.rabbitmq.url, 5672))]))
    if service in naming.DATABASE_SERVICES:
        rules.append(_to(peers.mongodb, [_tcp(p) for p in mongodb_ports(spec.mongodb.url)]))
    rules.append(_to(peers.consul, [_tcp(url_port(spec.consul.address, 8500))]))
    if spec.tracing.enabled:
        rules.append(_to(peers.jaeger, [_tcp(url_port(spec.tracing.otlp_endpoint, 4317))]))
    if service == "payment":
        rules.append(_to(peers.stripe, [_tcp(url_port(spec.stripe.api_base, 443))]))
    dns = [{"protocol": "UDP", "port": DNS_PORT}, _tcp(DNS_PORT)]
    rules.append(_to(peers.dns, dns))
    return rules


def network_policy(restaurant: Restaurant, service: str) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": naming.child_name(restaurant.name, service),
            "namespace": restaurant.namespace,
            "labels": naming.labels(restaurant.name, service),
        },
        "spec": {
            "podSelector": {"matchLabels": naming.selector_labels(restaurant.name, service)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress(restaurant, service),
            "egress": egress(restaurant, service),
        },
    }


def network_policies(restaurant: Restaurant) -> list[dict[str, Any]]:
    """One per service, or none when `spec.networkPolicy.enabled` is false."""
    if not restaurant.spec.network_policy.enabled:
        return []
    return [network_policy(restaurant, service) for service in naming.SERVICES]
