"""The operator chart's ClusterRole: what the operator needs, and nothing more.

That it is enough is shown by the other tests, whose operator runs with this role's
ServiceAccount token; here the API server's own authorizer says what it does not allow.
"""

from __future__ import annotations

import pytest

from devtools.kube import ControlPlane
from tests.operator import cluster

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
]


def _can(kube: ControlPlane, verb: str, resource: str) -> bool:
    result = kube.kubectl(
        "auth",
        "can-i",
        verb,
        *resource.split(),
        "--namespace",
        "anywhere",
        f"--as={ACCOUNT}",
        check=False,
    )
    return result.stdout.strip() == "yes"


def test_the_operator_may_do_what_it_does(kube: ControlPlane, operator_chart: str) -> None:
    refused = [f"{verb} {resource}" for verb, resource in ALLOWED if not _can(kube, verb, resource)]

    assert not refused


def test_the_operator_may_do_nothing_else(kube: ControlPlane, operator_chart: str) -> None:
    allowed = [f"{verb} {resource}" for verb, resource in DENIED if _can(kube, verb, resource)]

    assert not allowed
