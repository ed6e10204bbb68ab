"""The control plane in `devtools/kube.py` is a real one: its controllers, scheduler,
garbage collector, RBAC and service account tokens all work, and Helm renders charts."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devtools.kube import CommandError, ControlPlane, kubernetes_version

# The first test also waits for the whole control plane to start on a busy two-core machine.
pytestmark = pytest.mark.timeout(300)

WAIT_SECONDS = 60.0


def wait_until(what: str, check: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout}s")
        time.sleep(0.5)


def get_json(kube: ControlPlane, *args: str) -> Any:
    return json.loads(kube.kubectl("get", *args, "-o", "json").stdout)


def deployment(name: str, replicas: int) -> str:
    labels = {"app": name}
    container = {
        "name": "app",
        "image": "registry.k8s.io/pause:3.10",  # never pulled: kwok runs no containers
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
    }
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": {"containers": [container]}},
        },
    }
    return json.dumps(manifest)


@pytest.fixture
def namespace(kube: ControlPlane) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    yield name
    kube.kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found")


def apply_available_deployment(kube: ControlPlane, namespace: str, name: str) -> None:
    kube.kubectl("apply", "-n", namespace, "-f", "-", input=deployment(name, replicas=2))
    kube.kubectl(
        "wait",
        "-n",
        namespace,
        f"deployment/{name}",
        "--for=condition=Available",
        f"--timeout={int(WAIT_SECONDS)}s",
    )


def test_server_and_kubectl_report_the_pinned_release(kube: ControlPlane) -> None:
    version = json.loads(kube.kubectl("version", "-o", "json").stdout)

    pinned = kubernetes_version()
    assert re.fullmatch(r"v1\.32\.\d+", pinned)
    assert version["serverVersion"]["gitVersion"] == pinned
    assert version["clientVersion"]["gitVersion"] == pinned
    assert kube.server_url.startswith("https://127.0.0.1:")


def test_kwok_nodes_are_ready_and_renew_their_leases(kube: ControlPlane) -> None:
    # Without a fresh lease the controller-manager takes a node for dead after ~50 s and marks
    # every pod on it NotReady, so a long session depends on kwok renewing them.
    for name in kube.nodes:
        node = get_json(kube, "node", name)
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True"
        lease = get_json(kube, "-n", "kube-node-lease", "lease", name)["spec"]
        renewed = datetime.fromisoformat(lease["renewTime"])
        assert datetime.now(UTC) - renewed < timedelta(seconds=lease["leaseDurationSeconds"])


def test_a_deployment_becomes_available_on_kwok_nodes(kube: ControlPlane, namespace: str) -> None:
    started = time.monotonic()
    apply_available_deployment(kube, namespace, "web")

    assert time.monotonic() - started < WAIT_SECONDS
    status = get_json(kube, "-n", namespace, "deployment/web")["status"]
    assert status["availableReplicas"] == 2
    pods = get_json(kube, "-n", namespace, "pods", "-l", "app=web")["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        ready = {c["type"]: c["status"] for c in pod["status"]["conditions"]}["Ready"]
        assert ready == "True"
        node = get_json(kube, "node", pod["spec"]["nodeName"])
        assert node["metadata"]["annotations"]["kwok.x-k8s.io/node"] == "fake"


def test_deleting_a_deployment_garbage_collects_its_replicasets_and_pods(
    kube: ControlPlane, namespace: str
) -> None:
    apply_available_deployment(kube, namespace, "doomed")
    deployment_uid = get_json(kube, "-n", namespace, "deployment/doomed")["metadata"]["uid"]
    replica_sets = get_json(kube, "-n", namespace, "replicasets", "-l", "app=doomed")["items"]
    pods = get_json(kube, "-n", namespace, "pods", "-l", "app=doomed")["items"]
    assert [rs["metadata"]["ownerReferences"][0]["uid"] for rs in replica_sets] == [deployment_uid]
    assert {pod["metadata"]["ownerReferences"][0]["uid"] for pod in pods} == {
        replica_sets[0]["metadata"]["uid"]
    }

    # Background propagation: the API removes only the Deployment; the rest is the GC's job.
    kube.kubectl("delete", "-n", namespace, "deployment/doomed", "--cascade=background")

    def dependents_gone() -> bool:
        left = get_json(kube, "-n", namespace, "replicasets,pods", "-l", "app=doomed")
        return len(left["items"]) == 0

    wait_until("garbage-collected", dependents_gone)


def test_a_namespace_is_set_up_by_controllers_and_can_be_deleted(kube: ControlPlane) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kube.kubectl("create", "namespace", name)
    kube.kubectl("create", "configmap", "settings", "-n", name, "--from-literal=a=b")
    apply_available_deployment(kube, name, "tenant")

    # The controller-manager gives every namespace a default ServiceAccount and the root CA.
    def set_up() -> bool:
        found = kube.kubectl("get", "-n", name, "sa/default", "cm/kube-root-ca.crt", check=False)
        return found.returncode == 0

    wait_until("set up", set_up)

    kube.kubectl("delete", "namespace", name, f"--timeout={int(WAIT_SECONDS)}s")

    gone = kube.kubectl("get", "namespace", name, check=False)
    assert gone.returncode != 0
    assert "NotFound" in gone.stderr


def test_rbac_grants_only_what_a_role_binds(kube: ControlPlane, namespace: str) -> None:
    account = f"system:serviceaccount:{namespace}:reader"
    kube.kubectl("create", "serviceaccount", "reader", "-n", namespace)

    def can(verb: str, resource: str) -> str:
        result = kube.kubectl(
            "auth", "can-i", verb, resource, "-n", namespace, f"--as={account}", check=False
        )
        return result.stdout.strip()

    assert can("list", "pods") == "no"
    kube.kubectl(
        "create", "role", "pod-reader", "-n", namespace, "--verb=get,list", "--resource=pods"
    )
    kube.kubectl(
        "create",
        "rolebinding",
        "reader",
        "-n",
        namespace,
        "--role=pod-reader",
        f"--serviceaccount={namespace}:reader",
    )
    assert can("list", "pods") == "yes"
    assert can("delete", "pods") == "no"
    assert can("list", "secrets") == "no"


def test_a_service_account_token_authenticates(kube: ControlPlane, namespace: str) -> None:
    kube.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = kube.kubectl("create", "token", "robot", "-n", namespace).stdout.strip()

    # No kubeconfig credentials: the token alone must identify the account.
    whoami = kube.kubectl(
        "auth",
        "whoami",
        "-o",
        "json",
        f"--token={token}",
        f"--server={kube.server_url}",
        f"--certificate-authority={kube.pki.ca_cert}",
        "--kubeconfig=/dev/null",
    )
    user = json.loads(whoami.stdout)["status"]["userInfo"]["username"]
    assert user == f"system:serviceaccount:{namespace}:robot"


def test_a_failed_command_says_why(kube: ControlPlane, namespace: str) -> None:
    with pytest.raises(CommandError, match=r'configmaps "absent" not found'):
        kube.kubectl("get", "configmap", "absent", "-n", namespace)
    with pytest.raises(CommandError, match='no-chart-here" not found'):
        kube.helm("template", "demo", str(kube.workdir / "no-chart-here"))


def test_helm_renders_a_chart(kube: ControlPlane, tmp_path: Path) -> None:
    assert kube.helm("version", "--short").stdout.startswith("v3.21.")

    chart = tmp_path / "greeter"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: greeter\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("greeting: hello\n")
    (chart / "templates" / "configmap.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-greeter\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    )

    rendered = kube.helm("template", "demo", str(chart), "--set", "greeting=hi").stdout

    # The API server's dry run parses and validates what Helm rendered.
    checked = kube.kubectl(
        "create", "--dry-run=server", "-n", "default", "-o", "json", "-f", "-", input=rendered
    )
    configmap = json.loads(checked.stdout)
    assert configmap["metadata"]["name"] == "demo-greeter"
    assert configmap["data"] == {"greeting": "hi"}
