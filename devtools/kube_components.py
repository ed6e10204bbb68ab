"""The control plane's programs, each a process on loopback: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, and kwok as the kubelet of fake Nodes.

They are the upstream programs (built by `scripts/provision-servers`); kwok's own `fast`
stages make Pods Running and Ready without running any container. The components
authenticate with the client certificates of `kube_pki`; `kube.ControlPlane` starts them in
order and wires their credentials.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path

from devtools.kube_pki import Pki
from devtools.process import ManagedProcess, free_port, http_json, http_ok
from devtools.servers import BIN_DIR, REPO

SHARE_DIR = REPO / ".cache" / "servers" / "share"
KWOK_STAGES = SHARE_DIR / "kwok" / "stage" / "fast"
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
POD_CIDR = "10.244.0.0/16"
# kwok manages only the Nodes carrying this annotation.
KWOK_NODE_ANNOTATION = ("kwok.x-k8s.io/node", "fake")


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
        health = http_json(f"{self.url}/health")
        return isinstance(health, dict) and health.get("health") == "true"


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


class _Component(ManagedProcess):
    """A control-plane component (its program is its name) that talks to the API and serves
    its health over TLS."""

    def __init__(self, workdir: Path, pki: Pki, kubeconfig: Path) -> None:
        super().__init__(workdir)
        self.pki = pki
        self.kubeconfig = kubeconfig
        self.port = free_port()

    def command(self) -> list[str]:
        kubeconfig = self.kubeconfig
        return [
            str(BIN_DIR / self.name),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={self.port}",
            f"--tls-cert-file={self.pki.serving_cert}",
            f"--tls-private-key-file={self.pki.serving_key}",
            "--leader-elect=false",  # one instance: no lease to win first
            "--profiling=false",
            "--v=1",
            *self.flags(),
        ]

    def flags(self) -> list[str]:
        """What this component needs besides what every one does."""
        return []

    def is_ready(self) -> bool:
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        return http_ok(f"https://127.0.0.1:{self.port}/healthz", verify=context, timeout=2)


class ControllerManager(_Component):
    name = "kube-controller-manager"

    def flags(self) -> list[str]:
        pki = self.pki
        return [
            # Each controller gets its own service account token, as in a real cluster.
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={pki.service_account_key}",
            f"--root-ca-file={pki.ca_cert}",
            f"--cluster-signing-cert-file={pki.ca_cert}",
            f"--cluster-signing-key-file={pki.ca_key}",
            f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
        ]


class Scheduler(_Component):
    name = "kube-scheduler"


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
