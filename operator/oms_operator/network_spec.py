"""The spec of a restaurant's NetworkPolicies: where its dependencies are and who scrapes it.

The ports come from the spec's own addresses (see `network_policies`); these say which
addresses. Each peer is a Kubernetes NetworkPolicyPeer, passed through as written.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from oms_operator.spec_base import Spec

Peer = dict[str, Any]  # a NetworkPolicyPeer: podSelector, namespaceSelector or ipBlock
KUBE_DNS: Peer = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}


class Peers(Spec):
    """Where each dependency is; an empty list means any address (the port still limits)."""

    rabbitmq: tuple[Peer, ...] = ()
    mongodb: tuple[Peer, ...] = ()
    consul: tuple[Peer, ...] = ()  # also the source of Consul's checks on the ops port
    jaeger: tuple[Peer, ...] = ()
    stripe: tuple[Peer, ...] = ()
    dns: tuple[Peer, ...] = (KUBE_DNS,)


class NetworkPolicy(Spec):
    enabled: bool = True
    # Pods of this namespace may scrape every ops port ("" lets only Consul's checks in).
    monitoring_namespace: str = "monitoring"
    peers: Peers = Field(default_factory=Peers)
