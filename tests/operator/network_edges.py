"""What a set of NetworkPolicies lets through, by Kubernetes' rules, between named endpoints.

A connection is allowed when the source's egress allows it (or no egress policy selects the
source) and the destination's ingress allows it (or no ingress policy selects it). A rule
matches a peer by podSelector (in the policy's namespace unless a namespaceSelector says
otherwise), namespaceSelector, or ipBlock; a rule without peers matches every address, and
without ports every port. Enough of the API for the policies we write, and strict about the
rest (named ports, endPort) so that nothing is silently misread.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Policy = Mapping[str, Any]


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace and labels) or an address outside the cluster (no namespace)."""

    name: str
    ip: str
    namespace: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)

    def namespace_labels(self) -> dict[str, str]:
        return {"kubernetes.io/metadata.name": self.namespace} if self.namespace else {}


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist)."""
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    assert not unknown, f"selector fields not understood: {unknown}"
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], endpoint: Endpoint, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        address = ipaddress.ip_address(endpoint.ip)
        if address not in ipaddress.ip_network(block["cidr"]):
            return False
        return not any(address in ipaddress.ip_network(c) for c in block.get("except", []))
    if endpoint.namespace is None:
        return False  # selectors match pods only
    if "namespaceSelector" in peer:
        if not selects(peer["namespaceSelector"], endpoint.namespace_labels()):
            return False
    elif endpoint.namespace != policy_namespace:
        return False
    return "podSelector" not in peer or selects(peer["podSelector"], endpoint.labels)


def _port_matches(ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str) -> bool:
    if not ports:
        return True
    for entry in ports:
        assert isinstance(entry["port"], int), f"named ports are not evaluated: {entry}"
        assert "endPort" not in entry, entry
        if entry["port"] == port and entry.get("protocol", "TCP") == protocol:
            return True
    return False


def _selected(policy: Policy, endpoint: Endpoint, direction: str) -> bool:
    namespace = policy["metadata"]["namespace"]
    types = policy["spec"].get("policyTypes") or ["Ingress"]
    return (
        direction in types
        and endpoint.namespace == namespace
        and selects(policy["spec"]["podSelector"], endpoint.labels)
    )


def _direction_allows(
    policies: Iterable[Policy],
    local: Endpoint,
    remote: Endpoint,
    port: int,
    protocol: str,
    direction: str,
) -> bool:
    selecting = [p for p in policies if _selected(p, local, direction)]
    if not selecting:
        return True
    key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    for policy in selecting:
        namespace = policy["metadata"]["namespace"]
        for rule in policy["spec"].get(key) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(_peer_matches(p, remote, namespace) for p in peers)
            if peer_ok and _port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def allowed(
    policies: Iterable[Policy], source: Endpoint, destination: Endpoint, port: int, protocol: str
) -> bool:
    policies = list(policies)
    return _direction_allows(
        policies, source, destination, port, protocol, "Egress"
    ) and _direction_allows(policies, destination, source, port, protocol, "Ingress")


def edges(
    policies: Iterable[Policy],
    endpoints: Iterable[Endpoint],
    ports: Iterable[tuple[int, str]],
    ours: Iterable[str],
) -> set[tuple[str, str, int, str]]:
    """(source, destination, port, protocol) allowed, over every pair with one of `ours`."""
    policies, endpoints, ports, ours = list(policies), list(endpoints), list(ports), set(ours)
    return {
        (source.name, destination.name, port, protocol)
        for source in endpoints
        for destination in endpoints
        if source != destination and (source.name in ours or destination.name in ours)
        for port, protocol in ports
        if allowed(policies, source, destination, port, protocol)
    }
