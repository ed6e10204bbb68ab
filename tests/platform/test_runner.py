"""A service process runs on uvloop and shuts down gracefully on SIGTERM: it leaves Consul,
finishes the message it is handling, acknowledges it, and exits 0. One that must not start
says why in one line and exits 78."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from devtools import servers
from devtools.process import free_port
from oms.platform import mongo, runner
from oms.platform.broker import Broker
from oms.platform.consumer import parking_queue_name
from oms.platform.discovery import Discovery
from oms.platform.events import Event
from oms.platform.settings import ConsulSettings, MongoSettings
from tests.platform.sample_process import sample_process


async def test_sigterm_drains_in_flight_work_and_deregisters(
    tmp_path: Path,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
    broker: Broker,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> None:
    # The service's own database, beside the test's.
    work = mongo.database(mongo_client, mongo_settings, "sample").work
    async with sample_process(tmp_path, rabbitmq.amqp_url, mongo_settings, consul) as sample:
        discovery = Discovery(
            ConsulSettings(
                http_addr=consul.http_address, cache_ttl_seconds=0, service_prefix=sample.prefix
            )
        )
        try:
            await sample.wait(lambda: _healthy(discovery))
            event = Event(type="sample.work", data={"seconds": 1.5})
            await broker.publish(event)
            await sample.wait(lambda: _state(work, event.id, "started"))

            sample.process.send_signal(signal.SIGTERM)
            returncode = await asyncio.wait_for(sample.process.wait(), 30)

            assert returncode == 0, sample.log_path.read_text()
            assert await work.find_one({"_id": event.id}) == {
                "_id": event.id,
                "state": "done",
                "loop": "uvloop.Loop",
            }
            # Its indexes were made in its own database.
            assert "by_state" in {index["name"] async for index in await work.list_indexes()}
            _, catalog = await discovery.client.catalog.service(f"{sample.prefix}sample")
            assert catalog == []
            for name in (sample.queue, parking_queue_name(sample.queue)):
                assert await broker.queue_depth(name) == 0, name
            assert "lifecycle.exited" in sample.log_path.read_text()
        finally:
            await discovery.close()
            await mongo_client.drop_database(work.database.name)


def test_refuse_to_start_says_why_in_one_line_and_exits_78() -> None:
    code = "from oms.platform import runner; runner.refuse_to_start('sample', 'no secret set')"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )

    assert (done.returncode, done.stdout) == (78, "")
    assert done.stderr == "sample: refusing to start: no secret set\n"


def test_faults_outside_development_refuse_to_start_before_connecting_anything() -> None:
    code = (
        "import asyncio, contextlib\n"
        "from oms.platform.bootstrap import PlatformSettings, open_platform\n"
        "async def main():\n"
        "    async with contextlib.AsyncExitStack() as stack:\n"
        "        await open_platform(stack, 'sample', PlatformSettings(), 'oms.events')\n"
        "asyncio.run(main())\n"
    )
    rule = '[{"target": "consumer:sample.work", "action": "pause"}]'
    # Nothing listens on these: a process that tried to connect would hang or fail otherwise.
    nowhere = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "OMS_MODE": "production",
        "FAULTS_RULES": rule,
        "RABBITMQ_URL": f"amqp://guest:guest@{nowhere}/",
        "MONGODB_URL": f"mongodb://{nowhere}/",
        "OTEL_SDK_DISABLED": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )

    assert done.returncode == 78, done.stderr
    assert done.stderr.splitlines() == [
        "sample: refusing to start: FAULTS_RULES is set, but faults are off outside development"
    ]


async def _healthy(discovery: Discovery) -> bool:
    return len(await discovery.healthy("sample")) > 0


async def _state(work: AsyncCollection[mongo.Document], event_id: str, state: str) -> bool:
    found = await work.find_one({"_id": event_id})
    return found is not None and found["state"] == state


def test_a_started_service_keeps_its_start_up_heap_out_of_the_collectors_way() -> None:
    # In a process of its own: freezing the test runner's heap would change other tests.
    code = (
        "import gc, json, oms.gateway.app\n"
        "from oms.platform.runner import settle_heap\n"
        "settle_heap()\n"
        "print(json.dumps([gc.get_freeze_count(), gc.get_threshold(), gc.get_count()[2]]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    frozen, thresholds, oldest = json.loads(done.stdout)

    assert frozen > 10_000  # the modules a service imports, now outside every collection
    assert tuple(thresholds) == runner.GC_THRESHOLDS
    assert oldest == 0
