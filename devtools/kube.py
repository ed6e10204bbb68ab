"""A real Kubernetes control plane on loopback, with fake nodes instead of a container runtime.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the upstream programs
(built by `scripts/provision-servers`); kwok plays the kubelet of a few fake Nodes, so Pods
are scheduled, become Running and Ready, and Deployments become Available without running
any container. Every component listens on 127.0.0.1 and keeps its log in its own folder.

Authentication is by client certificates from a private CA (`kube_pki`); the admin is in
`system:masters`, the controller-manager and scheduler use the identities the default RBAC
roles name, and authorization is Node + RBAC as in a real cluster, so tests can check that a
least-privilege Role is enough. `OperatorProcess` runs our operator against it.
"""

from __future__ import annotations

import json
import os
import re
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx

from devtools.kube_pki import Pki, write_kubeconfig
from devtools.process import ManagedProcess, free_port, http_ok
from devtools.servers import BIN_DIR, REPO

SHARE_DIR = REPO / ".cache" / "servers" / "share"
KWOK_STAGES = SHARE_DIR / "kwok" / "stage" / "fast"
KUBECTL = BIN_DIR / "kubectl"
HELM = BIN_DIR / "helm"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
FAKE_NODES = ("kwok-node-0", "kwok-node-1")
# kwok manages only the Nodes carrying this annotation.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")
COMMAND_TIMEOUT = 300.0


def kubernetes_version() -> str:
    """The Kubernetes release the binaries are built from: the pin in the wrapper's go.mod."""
    go_mod = (REPO / "scripts" / "servers" / "kube" / "go.mod").read_text()
    match = re.search(r"^\s*k8s\.io/kubernetes (v\S+)$", go_mod, re.MULTILINE)
    if match is None:
        raise RuntimeError("scripts/servers/kube/go.mod does not require k8s.io/kubernetes")
    return match.group(1)


class CommandError(subprocess.CalledProcessError):
    """A failed kubectl or helm call whose message carries the command's stderr."""

    def __str__(self) -> str:
        return f"{super().__str__()}\nstderr:\n{self.stderr}"


def _run(
    command: list[str], env: dict[str, str], input: str | None, check: bool
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        command,
        input=input,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    if check and result.returncode != 0:
        raise CommandError(result.returncode, command, result.stdout, result.stderr)
    return result


class Etcd(ManagedProcess):
    name = "etcd"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.client_port, self.peer_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.client_port}"

    def command(self) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [
            str(BIN_DIR / "etcd"),
            "--name=oms-test",
            f"--data-dir={self.workdir / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=oms-test={peer}",
            # Test data is thrown away: skip fsync, which is slow on a shared disk.
            "--unsafe-no-fsync",
            "--log-level=warn",
        ]

    def is_ready(self) -> bool:
        try:
            response = httpx.get(f"{self.url}/health", timeout=1)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.json().get("health") == "true"


class ApiServer(ManagedProcess):
    name = "kube-apiserver"
    ready_timeout = 120.0

    def __init__(self, workdir: Path, pki: Pki, etcd_url: str) -> None:
        super().__init__(workdir)
        self.pki = pki
        self.etcd_url = etcd_url
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.probe: ssl.SSLContext | None = None  # set once the admin certificate exists

    def command(self) -> list[str]:
        pki = self.pki
        return [
            str(BIN_DIR / "kube-apiserver"),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--cert-dir={self.workdir / 'certs'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            "--authorization-mode=Node,RBAC",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={pki.service_account_public_key}",
            f"--service-account-signing-key-file={pki.service_account_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            f"--requestheader-client-ca-file={pki.front_proxy_ca}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki.front_proxy_cert}",
            f"--proxy-client-key-file={pki.front_proxy_key}",
            # The `kubernetes` Service's endpoint would be 127.0.0.1, which Endpoints reject.
            "--endpoint-reconciler-type=none",
            "--profiling=false",
            "--v=1",
        ]

    def is_ready(self) -> bool:
        return self.probe is not None and http_ok(
            f"{self.url}/readyz", verify=self.probe, timeout=2
        )


def _component_flags(kubeconfig: Path, pki: Pki, port: int) -> list[str]:
    """What the controller-manager and the scheduler both need: the API, and their own TLS."""
    return [
        f"--kubeconfig={kubeconfig}",
        f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--tls-cert-file={pki.serving_cert}",
        f"--tls-private-key-file={pki.serving_key}",
    ]


class _Component(ManagedProcess):
    """A control-plane component that talks to the API and serves its health over TLS."""

    def __init__(self, workdir: Path, pki: Pki, kubeconfig: Path) -> None:
        super().__init__(workdir)
        self.pki = pki
        self.kubeconfig = kubeconfig
        self.port = free_port()

    def is_ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        return http_ok(f"https://127.0.0.1:{self.port}/healthz", verify=context, timeout=2)


class ControllerManager(_Component):
    name = "kube-controller-manager"

    def command(self) -> list[str]:
        pki = self.pki
        return [
            str(BIN_DIR / "kube-controller-manager"),
            *_component_flags(self.kubeconfig, pki, self.port),
            # Each controller gets its own service account token, as in a real cluster.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
            "--leader-elect=false",  # one instance: no lease to win first
            "--profiling=false",
            "--v=1",
        ]


class Scheduler(_Component):
    name = "kube-scheduler"

    def command(self) -> list[str]:
        return [
            str(BIN_DIR / "kube-scheduler"),
            *_component_flags(self.kubeconfig, self.pki, self.port),
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ]


class Kwok(ManagedProcess):
    """kwok's controller: the kubelet of the fake Nodes, using kwok's own `fast` stages."""

    name = "kwok"

    def __init__(self, workdir: Path, kubeconfig: Path) -> None:
        super().__init__(workdir)
        self.kubeconfig = kubeconfig
        self.port = free_port()

    def command(self) -> list[str]:
        key, value = KWOK_NODE_ANNOTATION
        return [
            str(BIN_DIR / "kwok"),
            f"--config={KWOK_STAGES}",
            f"--kubeconfig={self.kubeconfig}",
            "--manage-all-nodes=false",
            f"--manage-nodes-with-annotation-selector={key}={value}",
            f"--cidr={POD_CIDR}",
            "--node-ip=127.0.0.1",
            f"--server-address=127.0.0.1:{self.port}",
            # Renew the fake nodes' leases, or after ~50 s the controller-manager takes them
            # for dead and marks every pod on them NotReady for good.
            "--node-lease-duration-seconds=40",
        ]

    def environment(self) -> dict[str, str]:
        # kwok also reads ~/.kwok/kwok.yaml when it exists: keep a developer's out.
        return {**os.environ, "HOME": str(self.workdir)}

    def is_ready(self) -> bool:
        return http_ok(f"http://127.0.0.1:{self.port}/healthz")

    def start(self) -> None:
        if not KWOK_STAGES.is_dir():
            raise RuntimeError(f"{KWOK_STAGES} is missing: run scripts/provision-servers first")
        super().start()


def fake_node(name: str) -> dict[str, object]:
    key, value = KWOK_NODE_ANNOTATION
    resources = {"cpu": "32", "memory": "256Gi", "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {key: value},
            "labels": {
                "type": "kwok",
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
            },
        },
        "status": {"allocatable": resources, "capacity": resources},
    }


class ControlPlane:
    """etcd, kube-apiserver, controller-manager, scheduler and kwok, on loopback ports."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.pki = Pki(workdir / "pki")
        self.etcd = Etcd(workdir / "etcd")
        self.apiserver = ApiServer(workdir / "kube-apiserver", self.pki, self.etcd.url)
        self.server_url = self.apiserver.url
        self.kubeconfig = workdir / "admin.kubeconfig"
        self.controller_manager = ControllerManager(
            workdir / "kube-controller-manager",
            self.pki,
            workdir / "kube-controller-manager.kubeconfig",
        )
        self.scheduler = Scheduler(
            workdir / "kube-scheduler", self.pki, workdir / "kube-scheduler.kubeconfig"
        )
        self.kwok = Kwok(workdir / "kwok", workdir / "kwok.kubeconfig")
        self.nodes = FAKE_NODES
        self.helm_home = workdir / "helm"
        self._started: list[ManagedProcess] = []

    def start(self) -> None:
        self._credentials()
        try:
            for server in (
                self.etcd,
                self.apiserver,
                self.controller_manager,
                self.scheduler,
                self.kwok,
            ):
                server.start()
                self._started.append(server)
            self._add_nodes()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        while self._started:
            self._started.pop().stop()

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return _run([str(KUBECTL), *args], self.env(), input, check)

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return _run([str(HELM), *args], self.env(), None, check)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECACHEDIR": str(self.workdir / "kubectl-cache"),  # not the user's ~/.kube
            "HELM_CACHE_HOME": str(self.helm_home / "cache"),
            "HELM_CONFIG_HOME": str(self.helm_home / "config"),
            "HELM_DATA_HOME": str(self.helm_home / "data"),
        }

    def _credentials(self) -> None:
        self.pki.create()
        url, ca = self.server_url, self.pki.ca_cert
        admin_cert, admin_key = self.pki.client("admin", "oms-admin", ("system:masters",))
        write_kubeconfig(self.kubeconfig, url, ca, admin_cert, admin_key)
        self.apiserver.probe = self.pki.ssl_context(admin_cert, admin_key)
        # The user names the default RBAC bindings grant these components' permissions to.
        for component, user in (
            (self.controller_manager, "system:kube-controller-manager"),
            (self.scheduler, "system:kube-scheduler"),
        ):
            cert, key = self.pki.client(component.name, user)
            write_kubeconfig(component.kubeconfig, url, ca, cert, key)
        # kwok stands in for the kubelets and node lifecycle of many nodes: it gets admin.
        cert, key = self.pki.client("kwok", "kwok", ("system:masters",))
        write_kubeconfig(self.kwok.kubeconfig, url, ca, cert, key)

    def _add_nodes(self) -> None:
        manifest = {"apiVersion": "v1", "kind": "List", "items": [fake_node(n) for n in self.nodes]}
        self.kubectl("apply", "-f", "-", input=json.dumps(manifest))
        # Ready, and untainted: the node lifecycle controller lifts its not-ready taint only
        # after kwok reports the node Ready, and until then nothing is scheduled there.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self._nodes_schedulable():
                return
            time.sleep(0.5)
        nodes = self.kubectl("get", "nodes", "-o", "yaml", check=False).stdout
        raise RuntimeError(f"fake nodes not Ready and schedulable in 60s:\n{nodes}")

    def _nodes_schedulable(self) -> bool:
        listed = json.loads(self.kubectl("get", "nodes", "-l", "type=kwok", "-o", "json").stdout)
        items = listed["items"]
        if len(items) != len(self.nodes):
            return False
        for node in items:
            conditions = node.get("status", {}).get("conditions", [])
            ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            if not ready or node["spec"].get("taints"):
                return False
        return True


class OperatorProcess(ManagedProcess):
    """`python -m oms_operator`, as its container runs it, with the kubeconfig it is given.

    Ready once kopf's liveness endpoint answers, which kopf serves only after the operator's
    start-up handlers have run.
    """

    name = "oms-operator"

    def __init__(self, workdir: Path, kubeconfig: Path) -> None:
        super().__init__(workdir, cwd=REPO)
        self.kubeconfig = kubeconfig
        self.liveness_port = free_port()

    def command(self) -> list[str]:
        return [sys.executable, "-m", "oms_operator"]

    def environment(self) -> dict[str, str]:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "OMS_OPERATOR_LIVENESS_PORT": str(self.liveness_port),
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
        }
        env.pop("KUBERNETES_SERVICE_HOST", None)  # the kubeconfig, not an in-cluster config
        return env

    def is_ready(self) -> bool:
        return http_ok(f"http://127.0.0.1:{self.liveness_port}/healthz")
