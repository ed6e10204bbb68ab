"""With `watchNamespaces`, the operator runs on the Roles of the namespaces it watches and
nothing else: a Restaurant there becomes Ready, and everywhere else the API server refuses
it. The cluster-wide operator is stopped meanwhile, or it would serve the namespace too."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import servers
from devtools.kube import ControlPlane, OperatorProcess
from tests.operator import cluster, examples, test_rbac

pytestmark = pytest.mark.timeout(300)
RELEASE = "scoped-oms-operator"  # the chart's full name, and its ServiceAccount's
SYSTEM = "oms-scoped-system"
ACCOUNT = f"system:serviceaccount:{SYSTEM}:{RELEASE}"


@pytest.fixture(scope="module")
def namespaces(kube: ControlPlane) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:6]
    watched, other = f"watched-{suffix}", f"other-{suffix}"
    for name in (watched, other):
        kube.kubectl("create", "namespace", name)
    yield watched, other
    for name in (watched, other):
        kube.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="module")
def scoped_operator(
    kube: ControlPlane,
    operator_chart: str,
    oms_operator: OperatorProcess,
    namespaces: tuple[str, str],
    servers_dir: Path,
) -> Iterator[cluster.Operator]:
    watched, _ = namespaces
    kube.helm(
        "install",
        RELEASE,
        str(examples.REPO / "charts" / "oms-operator"),
        "--namespace",
        SYSTEM,
        "--create-namespace",
        "--skip-crds",  # the cluster-wide release installed it
        "--set",
        f"watchNamespaces={{{watched}}}",
    )
    workdir = servers_dir / "oms-operator-scoped"
    workdir.mkdir(parents=True, exist_ok=True)
    kubeconfig = cluster.service_account_kubeconfig(
        kube, SYSTEM, RELEASE, workdir / "operator.kubeconfig"
    )
    oms_operator.stop()
    scoped = cluster.Operator(workdir, kubeconfig, namespaces=(watched,))
    scoped.start()
    try:
        yield scoped
    finally:
        # Its Restaurants go while it can still run their finalizers.
        kube.kubectl("-n", watched, "delete", "restaurants", "--all", "--timeout=60s", check=False)
        scoped.stop()
        kube.helm("uninstall", RELEASE, "--namespace", SYSTEM, check=False)
        oms_operator.start()


def test_the_role_grants_the_watched_namespace_what_the_operator_does(
    kube: ControlPlane, scoped_operator: cluster.Operator, namespaces: tuple[str, str]
) -> None:
    watched, other = namespaces

    refused = [
        f"{verb} {resource}"
        for verb, resource in test_rbac.ALLOWED
        if not test_rbac.can(kube, verb, resource, watched, ACCOUNT)
    ]
    granted_elsewhere = [
        f"{verb} {resource} in {where}"
        for where in (other, "default", "*")
        for verb, resource in test_rbac.ALLOWED
        if test_rbac.can(kube, verb, resource, where, ACCOUNT)
    ]

    assert refused == []
    assert granted_elsewhere == []
    mine = f"app.kubernetes.io/instance={RELEASE}"
    assert cluster.get_json(kube, "clusterroles,clusterrolebindings", "-l", mine)["items"] == []


def test_the_operator_serves_the_watched_namespace_on_its_role_alone(
    kube: ControlPlane,
    scoped_operator: cluster.Operator,
    namespaces: tuple[str, str],
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
) -> None:
    watched, other = namespaces
    # The other namespace's first: nothing serves it, before or after.
    cluster.apply(kube, other, *cluster.restaurant_documents("ignored", rabbitmq, consul))
    cluster.apply(kube, watched, *cluster.restaurant_documents("served", rabbitmq, consul))

    ready = cluster.wait_ready(kube, watched, "served", scoped_operator)

    assert ready["status"]["readyServices"] == "6/6"
    assert "oms.dev/cleanup" in ready["metadata"]["finalizers"]
    ignored: Any = cluster.restaurant(kube, other, "ignored")
    assert "status" not in ignored
    assert "finalizers" not in ignored["metadata"]
    assert cluster.get_json(kube, "-n", other, "deployments")["items"] == []


def test_the_service_account_is_refused_outside_the_watched_namespace(
    kube: ControlPlane, scoped_operator: cluster.Operator, namespaces: tuple[str, str]
) -> None:
    _, other = namespaces

    result = kube.kubectl(
        f"--kubeconfig={scoped_operator.kubeconfig}",
        "-n",
        other,
        "get",
        "secret",
        "trattoria-rabbitmq",
        check=False,
    )

    assert result.returncode != 0
    assert "Forbidden" in result.stderr, result.stderr
