"""A real Kubernetes control plane on loopback, with fake nodes instead of a container runtime,
and the clients tests use on it (kubectl, helm, our operator's process).

etcd, kube-apiserver, kube-controller-manager and kube-scheduler are the upstream programs
(`kube_components`); kwok plays the kubelet of a few fake Nodes, so Pods are scheduled,
become Running and Ready, and Deployments become Available without running any container.
Every component listens on 127.0.0.1 and keeps its log in its own folder.

Authentication is by client certificates from a private CA (`kube_pki`); the admin is in
`system:masters`, the controller-manager and scheduler use the identities the default RBAC
roles name, and authorization is Node + RBAC as in a real cluster, so tests can check that a
least-privilege Role is enough. `OperatorProcess` runs our operator against it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from devtools.kube_components import (
    ApiServer,
    ControllerManager,
    Etcd,
    Kwok,
    Scheduler,
    fake_node,
)
from devtools.kube_pki import Pki, write_kubeconfig
from devtools.process import ManagedProcess, free_port, http_ok
from devtools.servers import BIN_DIR, REPO

KUBECTL = BIN_DIR / "kubectl"
HELM = BIN_DIR / "helm"
FAKE_NODES = ("kwok-node-0", "kwok-node-1")
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
