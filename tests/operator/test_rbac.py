"""The operator chart's roles: what the operator needs, and nothing more.

In all-namespaces mode one ClusterRole; with `watchNamespaces`, a Role and RoleBinding per
watched namespace and nothing cluster-wide (test_rbac_namespaced.py runs the operator with
those). That the ClusterRole is enough is shown by the other tests, whose operator runs with
its ServiceAccount token; here the API server's own authorizer says what it does not allow.
"""

from __future__ import annotations

from typing import Any

import pytest

from devtools.kube import ControlPlane
from tests.operator import charts, cluster

pytestmark = pytest.mark.timeout(300)
ACCOUNT = f"system:serviceaccount:{cluster.OPERATOR_NAMESPACE}:{cluster.RELEASE}"

ALLOWED = [
    ("watch", "restaurants.oms.dev"),
    ("patch", "restaurants.oms.dev"),
    ("patch", "restaurants.oms.dev --subresource=status"),
    ("create", "deployments.apps"),
    ("patch", "deployments.apps"),
    ("watch", "deployments.apps"),
    ("patch", "services"),
    ("patch", "configmaps"),
    ("create", "networkpolicies.networking.k8s.io"),
    ("patch", "networkpolicies.networking.k8s.io"),
    ("delete", "networkpolicies.networking.k8s.io"),
    ("get", "secrets"),
    ("create", "events"),
]
DENIED = [
    ("create", "restaurants.oms.dev"),
    ("delete", "restaurants.oms.dev"),
    ("update", "restaurants.oms.dev"),
    ("delete", "deployments.apps"),
    ("update", "deployments.apps"),
    ("delete", "services"),
    ("list", "secrets"),
    ("watch", "secrets"),
    ("create", "secrets"),
    ("get", "pods"),
    ("create", "pods"),
    ("create", "roles.rbac.authorization.k8s.io"),
    ("list", "customresourcedefinitions.apiextensions.k8s.io"),
    ("list", "namespaces"),
    ("list", "networkpolicies.networking.k8s.io"),
    ("patch", "roles.rbac.authorization.k8s.io"),
]


def can(
    kube: ControlPlane,
    verb: str,
    resource: str,
    namespace: str = "anywhere",
    account: str = ACCOUNT,
) -> bool:
    """The API server's answer to `kubectl auth can-i` as the operator's ServiceAccount."""
    where = ["--all-namespaces"] if namespace == "*" else ["--namespace", namespace]
    result = kube.kubectl(
        "auth", "can-i", verb, *resource.split(), *where, f"--as={account}", check=False
    )
    return result.stdout.strip() == "yes"


def test_the_operator_may_do_what_it_does(kube: ControlPlane, operator_chart: str) -> None:
    refused = [f"{verb} {resource}" for verb, resource in ALLOWED if not can(kube, verb, resource)]

    assert not refused


def test_the_operator_may_do_nothing_else(kube: ControlPlane, operator_chart: str) -> None:
    allowed = [f"{verb} {resource}" for verb, resource in DENIED if can(kube, verb, resource)]

    assert not allowed


def _rules(documents: list[dict[str, Any]], kind: str) -> list[list[dict[str, Any]]]:
    return [d["rules"] for d in documents if d["kind"] == kind]


def test_watched_namespaces_get_a_role_each_and_nothing_cluster_wide() -> None:
    scoped = charts.render("oms-operator", "--set", "watchNamespaces={east,west}")
    clusterwide = charts.render("oms-operator")

    kinds = sorted((d["kind"], d["metadata"].get("namespace", "")) for d in scoped)
    assert kinds == [
        ("Deployment", "demo"),
        ("Role", "east"),
        ("Role", "west"),
        ("RoleBinding", "east"),
        ("RoleBinding", "west"),
        ("ServiceAccount", "demo"),
    ]
    (cluster_rules,) = _rules(clusterwide, "ClusterRole")
    assert _rules(scoped, "Role") == [cluster_rules, cluster_rules]
    for binding in (d for d in scoped if d["kind"] == "RoleBinding"):
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "demo-oms-operator",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "demo-oms-operator", "namespace": "demo"}
        ]
