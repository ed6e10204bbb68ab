"""A service process shuts down gracefully on SIGTERM: it leaves Consul, finishes the
message it is handling, acknowledges it, and exits 0."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from devtools import servers
from devtools.process import free_port
from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.consumer import parking_queue_name
from oms.platform.discovery import Discovery
from oms.platform.events import Event
from oms.platform.settings import ConsulSettings, MongoSettings

SAMPLE = Path(__file__).with_name("sample_service.py")


async def test_sigterm_drains_in_flight_work_and_deregisters(
    tmp_path: Path,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
    broker: Broker,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> None:
    queue = f"sample.{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "RABBITMQ_URL": rabbitmq.amqp_url,
        "MONGODB_URL": mongo_settings.url,
        "MONGODB_DATABASE": mongo_settings.database,
        "CONSUL_HTTP_ADDR": consul.http_address,
        "CONSUL_CHECK_INTERVAL": "500ms",
        "GRPC_PORT": str(port),
        "SAMPLE_QUEUE": queue,
        "OTEL_SDK_DISABLED": "true",
    }
    log_path = tmp_path / "sample.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(SAMPLE), env=env, stdout=log, stderr=subprocess.STDOUT
        )
    discovery = Discovery(ConsulSettings(http_addr=consul.http_address, cache_ttl_seconds=0))
    work = mongo.database(mongo_client, mongo_settings).work
    try:
        await _wait(lambda: _healthy(discovery), log_path)
        event = Event(type="sample.work", data={"seconds": 1.5})
        await broker.publish(event)
        await _wait(lambda: _state(work, event.id, "started"), log_path)

        process.send_signal(signal.SIGTERM)
        returncode = await asyncio.wait_for(process.wait(), 30)

        assert returncode == 0, log_path.read_text()
        assert await work.find_one({"_id": event.id}) == {"_id": event.id, "state": "done"}
        _, catalog = await discovery.client.catalog.service("sample")
        assert [e for e in catalog if e["ServicePort"] == port] == []
        channel = await broker.connection.channel()
        for name in (queue, parking_queue_name(queue)):
            declared = await channel.declare_queue(name, durable=True, passive=True)
            assert declared.declaration_result.message_count == 0, name
        assert "lifecycle.exited" in log_path.read_text()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await discovery.close()


async def _healthy(discovery: Discovery) -> bool:
    return len(await discovery.healthy("sample")) > 0


async def _state(work: AsyncCollection[mongo.Document], event_id: str, state: str) -> bool:
    found = await work.find_one({"_id": event_id})
    return found is not None and found["state"] == state


async def _wait(
    condition: Callable[[], Awaitable[bool]], log_path: Path, within: float = 20
) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached within {within}s; service log:\n{log_path.read_text()}")
