"""Rendering the Helm charts with the provisioned helm, no cluster needed (`helm template`)."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from devtools.kube import HELM
from tests.operator import examples

CHARTS = examples.REPO / "charts"
# What the platform chart needs in production mode (the default): the Secrets, the URL ...
SECRETS = (
    "gateway.adminTokenSecret.name=trattoria-gateway,gateway.sessionSecret.name=trattoria-gateway,"
    "gateway.publicUrl=https://trattoria.example.com,stripe.secret.name=trattoria-stripe"
)
# ... and the services' mutual TLS certificates, or plaintext gRPC said to be intended.
TLS_SECRET = "trattoria-grpc-tls"
PRODUCTION = f"{SECRETS},grpcTLS.secretName={TLS_SECRET}"
PRODUCTION_PLAINTEXT = f"{SECRETS},grpcTLS.insecure=true"


def render(chart: str, *args: str, release: str = "demo", namespace: str = "demo") -> list[Any]:
    """The documents `helm template` renders; raises with helm's stderr when it fails."""
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            **{f"HELM_{kind}_HOME": str(Path(home) / kind) for kind in ("CACHE", "CONFIG", "DATA")},
        }
        result = subprocess.run(
            [str(HELM), "template", release, str(CHARTS / chart), "--namespace", namespace, *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
    if result.returncode != 0:
        raise AssertionError(f"helm template {chart} failed:\n{result.stderr}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def containers(documents: list[Any]) -> dict[str, dict[str, Any]]:
    """component -> its Deployment's one container."""
    found: dict[str, dict[str, Any]] = {}
    for document in documents:
        if document["kind"] == "Deployment":
            component = document["metadata"]["labels"]["app.kubernetes.io/component"]
            (found[component],) = document["spec"]["template"]["spec"]["containers"]
    return found
