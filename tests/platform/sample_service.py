"""A minimal service built the way OMS services are, run as a process by test_runner.py.

It consumes `sample.work` events (each sleeps for `data.seconds`, recording when it starts and
ends in MongoDB), serves gRPC health, and registers in Consul.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack

from oms.platform import logs, mongo, runner
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer
from oms.platform.discovery import Discovery, Registration
from oms.platform.events import Event
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import (
    ConsulSettings,
    GrpcSettings,
    LogSettings,
    MongoSettings,
    RabbitMQSettings,
)

NAME = "sample"


async def main(lifecycle: runner.Lifecycle) -> None:
    logs.setup(NAME, LogSettings())
    mongo_settings, grpc_settings = MongoSettings(), GrpcSettings()
    async with AsyncExitStack() as stack:
        client = mongo.connect(mongo_settings)
        stack.push_async_callback(client.close)
        work = mongo.database(client, mongo_settings).work

        broker = Broker(RabbitMQSettings(), name=NAME)
        await broker.connect()
        stack.push_async_callback(broker.close)

        async def handle(event: Event) -> None:
            await work.insert_one({"_id": event.id, "state": "started"})
            await asyncio.sleep(float(event.data["seconds"]))
            await work.update_one({"_id": event.id}, {"$set": {"state": "done"}})

        consumer = Consumer(broker, os.environ["SAMPLE_QUEUE"], ["sample.work"], handle)
        await consumer.start()
        stack.push_async_callback(consumer.stop)

        server = GrpcServer(grpc_settings, service_names=[NAME])
        await server.start()
        stack.push_async_callback(server.stop)

        discovery = Discovery(ConsulSettings())
        stack.push_async_callback(discovery.close)
        registration = Registration(NAME, grpc_settings.advertise_host, server.port)
        await discovery.register(registration)
        stack.push_async_callback(discovery.deregister, registration)

        lifecycle.mark_ready()
        await lifecycle.stopped()


if __name__ == "__main__":
    runner.run(main)
