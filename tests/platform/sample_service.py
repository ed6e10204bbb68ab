"""A minimal service built the way OMS services are, run as a process by the platform tests.

It opens the platform (`open_platform`: its own database with an index, the broker, the ops
server), consumes `sample.work` events from `SAMPLE_QUEUE` (each sleeps for `data.seconds`,
recording in MongoDB when it starts and ends and which event loop ran it), serves gRPC
health and registers in Consul, checked through its `/readyz`. It accepts work as Order does
(`OPS_READY_WITHOUT_BROKER` decides whether it stays ready without RabbitMQ);
`SAMPLE_BROKER_REQUIRED=true` makes it a consumer-only process, like the kitchen.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack

from pymongo import ASCENDING, IndexModel

from oms.domain_events import EXCHANGE
from oms.platform import runner
from oms.platform.bootstrap import PlatformSettings, open_platform
from oms.platform.events import Event

NAME = "sample"
WORK = "sample.work"
INDEXES = {"work": [IndexModel([("state", ASCENDING)], name="by_state")]}


async def main(lifecycle: runner.Lifecycle) -> None:
    async with AsyncExitStack() as stack:
        required = os.environ.get("SAMPLE_BROKER_REQUIRED", "false") == "true"
        platform = await open_platform(
            stack, NAME, PlatformSettings(), EXCHANGE, INDEXES, broker_required=required
        )
        work = platform.db.work

        async def handle(event: Event) -> None:
            loop = type(asyncio.get_running_loop())
            await work.insert_one(
                {"_id": event.id, "state": "started", "loop": f"{loop.__module__}.{loop.__name__}"}
            )
            await asyncio.sleep(float(event.data["seconds"]))
            await work.update_one({"_id": event.id}, {"$set": {"state": "done"}})

        await platform.consume(os.environ["SAMPLE_QUEUE"], {WORK: handle})
        await platform.serve_grpc(lambda server: None, [NAME])
        lifecycle.mark_ready()
        await lifecycle.stopped()


if __name__ == "__main__":
    runner.run(main)
