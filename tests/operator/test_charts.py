"""Both Helm charts lint, render valid manifests (checked by the real API server), and set
the same environment as the operator does."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from devtools.kube import ControlPlane
from oms_operator import manifests, naming
from tests.operator import examples

pytestmark = pytest.mark.timeout(300)
CHARTS = examples.REPO / "charts"


def _render(kube: ControlPlane, chart: str, *args: str) -> list[dict[str, Any]]:
    output = kube.helm("template", "demo", str(CHARTS / chart), "--namespace", "demo", *args)
    return [d for d in yaml.safe_load_all(output.stdout) if d]


@pytest.mark.parametrize("chart", ["oms", "oms-operator"])
def test_helm_lint_passes(kube: ControlPlane, chart: str) -> None:
    result = kube.helm("lint", "--strict", str(CHARTS / chart))

    assert "0 chart(s) failed" in result.stdout, result.stdout


def test_the_platform_chart_renders_what_the_api_server_accepts(
    kube: ControlPlane,
) -> None:
    documents = _render(
        kube,
        "oms",
        "--set",
        "menu.items[0].id=pizza,menu.items[0].name=Pizza,menu.items[0].price_minor=900",
        "--set",
        "menu.items[0].currency=EUR,stripe.secret.name=stripe,gateway.adminTokenSecret.name=admin",
    )
    kube.kubectl("create", "namespace", "demo", check=False)

    result = kube.kubectl(
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}),
    )

    kinds = sorted(d["kind"] for d in documents)
    assert kinds == ["ConfigMap"] + ["Deployment"] * 6 + ["Service"] * 6
    assert result.stdout.count("(server dry run)") == len(documents)


def test_the_operator_chart_renders_what_the_api_server_accepts(
    kube: ControlPlane,
) -> None:
    documents = _render(kube, "oms-operator", "--include-crds")
    kube.kubectl("create", "namespace", "demo", check=False)

    result = kube.kubectl(
        "apply",
        "--dry-run=server",
        "-f",
        "-",
        input=json.dumps({"apiVersion": "v1", "kind": "List", "items": documents}),
    )

    kinds = sorted(d["kind"] for d in documents)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "ServiceAccount",
    ]
    assert result.stdout.count("(server dry run)") == len(documents)
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "oms_operator"]


def test_the_packaged_operator_chart_carries_the_crd(kube: ControlPlane, tmp_path: Path) -> None:
    kube.helm("package", str(CHARTS / "oms-operator"), "--destination", str(tmp_path))

    (package,) = tmp_path.glob("oms-operator-*.tgz")
    with tarfile.open(package) as archive:
        member = archive.extractfile("oms-operator/crds/restaurants.oms.dev.yaml")
        assert member is not None
        assert member.read() == examples.CRD.read_bytes()


def _env_names(container: dict[str, Any]) -> list[str]:
    return [variable["name"] for variable in container["env"]]


def test_the_platform_chart_sets_the_same_variables_as_the_operator(
    kube: ControlPlane,
) -> None:
    documents = _render(
        kube,
        "oms",
        "--set",
        "menu.existingConfigMap=menu,stripe.secret.name=stripe,gateway.adminTokenSecret.name=a",
    )
    rendered = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]["spec"]
        for d in documents
        if d["kind"] == "Deployment"
    }
    restaurant = examples.restaurant()

    for service in naming.SERVICES:
        built = manifests.deployment(restaurant, service)["spec"]["template"]["spec"]
        chart = rendered[f"{service}"]
        assert _env_names(chart["containers"][0]) == _env_names(built["containers"][0]), service
        assert chart["containers"][0]["command"] == built["containers"][0]["command"]
        assert chart["containers"][0]["readinessProbe"] == built["containers"][0]["readinessProbe"]
