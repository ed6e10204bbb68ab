"""Fixtures for the operator on the real control plane: the chart installed, the operator
running with its ServiceAccount, and a namespace of Restaurants wired to the test broker and
Consul."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.kube import ControlPlane, OperatorProcess
from tests.operator import cluster, examples

CHART = examples.REPO / "charts" / "oms-operator"


@pytest.fixture(scope="session")
def operator_chart(kube: ControlPlane) -> str:
    """The operator chart installed (CRD, ServiceAccount, RBAC); returns its ServiceAccount."""
    kube.helm(
        "install",
        cluster.RELEASE,
        str(CHART),
        "--namespace",
        cluster.OPERATOR_NAMESPACE,
        "--create-namespace",
    )
    kube.kubectl("wait", "--for=condition=Established", "crd/restaurants.oms.dev", "--timeout=60s")
    return cluster.RELEASE


@pytest.fixture(scope="session")
def oms_operator(
    kube: ControlPlane, operator_chart: str, servers_dir: Path
) -> Iterator[OperatorProcess]:
    workdir = servers_dir / "oms-operator"
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = cluster.service_account_kubeconfig(
        kube, cluster.OPERATOR_NAMESPACE, operator_chart, workdir / "operator.kubeconfig"
    )
    process = cluster.Operator(workdir, kubeconfig)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def namespace(kube: ControlPlane) -> Iterator[str]:
    name = f"food-{uuid.uuid4().hex[:6]}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", check=False)
