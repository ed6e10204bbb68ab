"""Both Helm charts lint and render what the real API server accepts; the platform chart
installs there and its Deployments become Available, sets what the operator sets, and
refuses production without the secrets the services insist on."""

from __future__ import annotations

import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from devtools.kube import ControlPlane
from oms_operator import manifests, naming
from oms_operator.model import Restaurant
from tests.operator import charts, cluster, examples

pytestmark = pytest.mark.timeout(300)
LINT_VALUES = {"oms": ["--set", charts.PRODUCTION], "oms-operator": []}


@pytest.mark.parametrize("chart", ["oms", "oms-operator"])
def test_helm_lint_passes(kube: ControlPlane, chart: str) -> None:
    result = kube.helm("lint", "--strict", str(charts.CHARTS / chart), *LINT_VALUES[chart])

    assert "0 chart(s) failed" in result.stdout, result.stdout


def _dry_run(kube: ControlPlane, documents: list[dict[str, Any]]) -> str:
    kube.kubectl("create", "namespace", "demo", check=False)
    listed = {"apiVersion": "v1", "kind": "List", "items": documents}
    return kube.kubectl("apply", "--dry-run=server", "-f", "-", input=json.dumps(listed)).stdout


def test_the_platform_chart_renders_what_the_api_server_accepts(kube: ControlPlane) -> None:
    documents = charts.render(
        "oms",
        "--set",
        "menu.items[0].id=pizza,menu.items[0].name=Pizza,menu.items[0].price_minor=900",
        "--set",
        f"menu.items[0].currency=EUR,{charts.PRODUCTION}",
    )

    result = _dry_run(kube, documents)

    kinds = sorted(d["kind"] for d in documents)
    assert kinds == sorted(
        ["ConfigMap"] * 2 + ["Deployment"] * 6 + ["Service"] * 6 + ["NetworkPolicy"] * 6
    )
    assert result.count("(server dry run)") == len(documents)


def test_production_without_the_services_secrets_is_refused_at_render() -> None:
    with pytest.raises(AssertionError, match="mode production \\(the default\\) needs"):
        charts.render("oms")


def test_production_without_grpc_tls_or_an_explicit_opt_out_is_refused_at_render() -> None:
    with pytest.raises(AssertionError, match=r"needs grpcTLS\.secretName .* or grpcTLS\.insecure"):
        charts.render("oms", "--set", charts.SECRETS)
    both = f"{charts.PRODUCTION},grpcTLS.insecure=true"
    with pytest.raises(AssertionError, match=r"set exactly one of grpcTLS\.secretName"):
        charts.render("oms", "--set", both)


@pytest.mark.parametrize(
    ("values", "plaintext"),
    [
        (charts.PRODUCTION, None),
        (charts.PRODUCTION_PLAINTEXT, "true"),
        ("mode=development", None),  # development allows plaintext by itself
    ],
    ids=["production with TLS", "production, plaintext on purpose", "development"],
)
def test_plaintext_grpc_is_set_only_when_the_values_opt_out(
    values: str, plaintext: str | None
) -> None:
    rendered = charts.containers(charts.render("oms", "--set", values))

    for service, container in rendered.items():
        env = {v["name"]: v.get("value") for v in container["env"]}
        assert env.get("GRPC_TLS_INSECURE") == plaintext, service
        assert ("GRPC_TLS_CA_FILE" in env) == (values == charts.PRODUCTION), service


def test_the_operator_chart_renders_what_the_api_server_accepts(kube: ControlPlane) -> None:
    documents = charts.render("oms-operator", "--include-crds")

    result = _dry_run(kube, documents)

    kinds = sorted(d["kind"] for d in documents)
    assert kinds == [
        "ClusterRole",
        "ClusterRoleBinding",
        "CustomResourceDefinition",
        "Deployment",
        "ServiceAccount",
    ]
    assert result.count("(server dry run)") == len(documents)
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "oms_operator"]


def test_the_packaged_operator_chart_carries_the_crd(kube: ControlPlane, tmp_path: Path) -> None:
    kube.helm("package", str(charts.CHARTS / "oms-operator"), "--destination", str(tmp_path))

    (package,) = tmp_path.glob("oms-operator-*.tgz")
    with tarfile.open(package) as archive:
        member = archive.extractfile("oms-operator/crds/restaurants.oms.dev.yaml")
        assert member is not None
        assert member.read() == examples.CRD.read_bytes()


def _env_names(container: dict[str, Any]) -> list[str]:
    return [variable["name"] for variable in container["env"]]


def test_the_platform_chart_sets_the_same_pods_as_the_operator() -> None:
    values = f"menu.existingConfigMap=menu,{charts.PRODUCTION}"
    documents = charts.render("oms", "--set", values)
    rendered = {
        d["metadata"]["labels"]["app.kubernetes.io/component"]: d["spec"]["template"]
        for d in documents
        if d["kind"] == "Deployment"
    }
    spec = examples.restaurant_document()["spec"] | {"grpcTLS": {"secretName": charts.TLS_SECRET}}
    restaurant = Restaurant.parse("demo", "demo", spec)

    for service in naming.SERVICES:
        built = manifests.deployment(restaurant, service)["spec"]["template"]
        chart = rendered[service]
        mine, theirs = built["spec"]["containers"][0], chart["spec"]["containers"][0]
        assert _env_names(theirs) == _env_names(mine), service
        for key in ("command", "ports", "readinessProbe", "livenessProbe", "lifecycle"):
            assert theirs[key] == mine[key], (service, key)
        assert theirs["volumeMounts"] == mine["volumeMounts"], service
        for key in ("terminationGracePeriodSeconds", "securityContext"):
            assert chart["spec"][key] == built["spec"][key], (service, key)
        scrape = {k: v for k, v in built["metadata"]["annotations"].items() if "prometheus" in k}
        assert scrape.items() <= chart["metadata"]["annotations"].items(), service


@pytest.mark.parametrize(("longest", "drain"), [(60, 20), (300, 20), (10, 45.5)])
def test_the_charts_kitchen_outlives_its_longest_cook_after_the_pre_stop_pause(
    longest: float, drain: float
) -> None:
    kitchen = f"kitchen.longestCookSeconds={longest},kitchen.drainSeconds={drain}"
    documents = charts.render("oms", "--set", f"{charts.PRODUCTION},{kitchen}")
    (pod,) = [
        d["spec"]["template"]["spec"]
        for d in documents
        if d["kind"] == "Deployment"
        and d["metadata"]["labels"]["app.kubernetes.io/component"] == "kitchen"
    ]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    env = {v["name"]: v.get("value") for v in pod["containers"][0]["env"]}

    assert pre_stop == naming.PRE_STOP_SECONDS
    assert pod["terminationGracePeriodSeconds"] > pre_stop + max(longest, drain)
    spec = {"kitchen": {"longestCookSeconds": longest, "drainSeconds": drain}}
    restaurant = Restaurant.parse("demo", "demo", examples.restaurant_document()["spec"] | spec)
    assert pod["terminationGracePeriodSeconds"] == manifests.grace_seconds(restaurant, "kitchen")
    # What the kitchen is told is what its grace period was computed from.
    assert (env["KITCHEN_LONGEST_COOK_SECONDS"], env["KITCHEN_DRAIN_SECONDS"]) == (
        str(longest),
        str(drain),
    )


def test_the_platform_chart_installs_and_its_deployments_become_available(
    kube: ControlPlane,
) -> None:
    namespace = f"chart-{uuid.uuid4().hex[:6]}"
    kube.kubectl("create", "namespace", namespace)
    secrets = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name},
            "stringData": data,
        }
        for name, data in (
            ("oms-rabbitmq", {"username": "oms", "password": "p"}),
            ("trattoria-gateway", {"admin-token": "a", "session-secret": "s"}),
            ("trattoria-stripe", {"api-key": "sk_test_123", "webhook-secret": "whsec_x"}),
            (charts.TLS_SECRET, {"tls.crt": "c", "tls.key": "k", "ca.crt": "a"}),
        )
    ]
    cluster.apply(kube, namespace, *secrets)
    try:
        kube.helm(
            "install",
            "shop",
            str(charts.CHARTS / "oms"),
            "--namespace",
            namespace,
            "--set",
            charts.PRODUCTION,
            "--wait",
            "--timeout",
            "180s",
        )
        available = ("--for=condition=Available", "--timeout=60s")
        kube.kubectl("-n", namespace, "wait", "deployment", "--all", *available)

        deployments = cluster.get_json(kube, "-n", namespace, "deployments")["items"]
        assert sorted(d["metadata"]["name"] for d in deployments) == sorted(
            f"shop-{s}" for s in naming.SERVICES
        )
        for deployment in deployments:
            assert deployment["status"]["availableReplicas"] == deployment["spec"]["replicas"]
        policies = cluster.get_json(kube, "-n", namespace, "networkpolicies")["items"]
        assert len(policies) == len(naming.SERVICES)
        dashboard = cluster.get_json(kube, "-n", namespace, "configmap", "shop-dashboard")
        assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert json.loads(dashboard["data"]["oms.json"])["uid"] == "oms-platform"
    finally:
        kube.helm("uninstall", "shop", "--namespace", namespace, check=False)
        kube.kubectl("delete", "namespace", namespace, "--wait=false", check=False)
