"""`sample_service.py` as a process of its own, pointed at the servers a test gives it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools import servers
from devtools.process import free_port
from oms.platform.settings import MongoSettings
from tests.platform.support import eventually

SAMPLE = Path(__file__).with_name("sample_service.py")


@dataclass
class SampleProcess:
    process: asyncio.subprocess.Process
    log_path: Path
    queue: str
    prefix: str
    grpc_port: int
    ops_port: int

    @property
    def grpc_address(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    @property
    def ops_url(self) -> str:
        return f"http://127.0.0.1:{self.ops_port}"

    async def wait(self, condition: Callable[[], Awaitable[bool]], within: float = 30) -> None:
        """Poll `condition`; on failure, show the service's log."""
        try:
            await eventually(condition, within=within)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; service log:\n{self.log_path.read_text()}") from None


@asynccontextmanager
async def sample_process(
    workdir: Path,
    rabbitmq_url: str,
    mongo_settings: MongoSettings,
    consul: servers.Consul,
    **environment: str,
) -> AsyncIterator[SampleProcess]:
    """The sample service, started; killed at the end if the test has not stopped it."""
    queue, prefix = f"sample.{uuid.uuid4().hex[:8]}", f"t{uuid.uuid4().hex[:8]}-"
    grpc_port, ops_port = free_port(), free_port()
    env = {
        **os.environ,
        "RABBITMQ_URL": rabbitmq_url,
        "MONGODB_URL": mongo_settings.url,
        "MONGODB_DATABASE": mongo_settings.database,
        "CONSUL_HTTP_ADDR": consul.http_address,
        "CONSUL_CHECK_INTERVAL": "500ms",
        "CONSUL_SERVICE_PREFIX": prefix,
        "GRPC_PORT": str(grpc_port),
        "OPS_PORT": str(ops_port),
        # Production mode, plain gRPC on purpose: the runner is what these tests are about.
        "GRPC_TLS_INSECURE": "true",
        "SAMPLE_QUEUE": queue,
        "OTEL_SDK_DISABLED": "true",
        **environment,
    }
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "sample.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SAMPLE), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield SampleProcess(process, log_path, queue, prefix, grpc_port, ops_port)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
