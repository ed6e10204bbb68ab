"""A service process started only to see whether it refuses to: its exit status and output.

Its broker, database and Consul are a loopback port nothing listens on, so a process that got
past its start-up checks would fail to connect (or hang) instead of exiting 78; and nothing of
this machine's own OMS environment leaks into it, so the variables a test gives are all it has.
"""

from __future__ import annotations

import os
import subprocess
import sys

from devtools.process import free_port

# Far longer than a refusal takes; a process that went on would be stopped by it.
TIMEOUT_SECONDS = 60
# Variables of the settings a test controls; any the caller's environment has are dropped.
_OWN_PREFIXES = ("OMS_", "GRPC_", "GATEWAY_", "STRIPE_", "PAYMENT_", "FAULTS_", "CONSUL_")


def run(target: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Run `target` (`oms.<service>` as `python -m`, or a script's path) with `environment`."""
    nowhere = f"127.0.0.1:{free_port()}"
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(_OWN_PREFIXES)}
    env = {
        **inherited,
        "RABBITMQ_URL": f"amqp://guest:guest@{nowhere}/",
        "MONGODB_URL": f"mongodb://{nowhere}/",
        "CONSUL_HTTP_ADDR": nowhere,
        "OTEL_SDK_DISABLED": "true",
        **environment,
    }
    command = [sys.executable, target] if target.endswith(".py") else [sys.executable, "-m", target]
    return subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=TIMEOUT_SECONDS, check=False
    )
