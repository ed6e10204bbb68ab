"""Wires the shared plumbing for one service process, in the order shutdown must reverse.

A service's composition root calls `open_platform` inside its `AsyncExitStack`, starts its
consumers, then `serve_grpc` last (which registers in Consul), so unwinding the stack leaves
Consul first, then drains gRPC calls, then in-flight messages, then closes connections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import grpc
from pydantic import BaseModel, Field
from pymongo import IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from oms.platform import logs, mongo, tracing
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer, Handler
from oms.platform.discovery import Discovery, Registration
from oms.platform.grpc_client import Balancer, Channels
from oms.platform.grpc_server import GrpcServer
from oms.platform.outbox import OutboxRelay
from oms.platform.periodic import Periodic
from oms.platform.settings import (
    ConsulSettings,
    GrpcSettings,
    LogSettings,
    MongoSettings,
    RabbitMQSettings,
    TracingSettings,
)


class PlatformSettings(BaseModel):
    """Every plumbing section; each reads its own environment variables."""

    log: LogSettings = Field(default_factory=LogSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    rabbitmq: RabbitMQSettings = Field(default_factory=RabbitMQSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    consul: ConsulSettings = Field(default_factory=ConsulSettings)


@dataclass
class Platform:
    name: str
    settings: PlatformSettings
    stack: AsyncExitStack
    db: AsyncDatabase[mongo.Document]
    broker: Broker
    discovery: Discovery
    channels: Channels
    _balancers: dict[str, Balancer] = field(default_factory=dict)

    def service(self, name: str) -> Balancer:
        """Channels to the healthy instances of another service, round robin."""
        if name not in self._balancers:
            self._balancers[name] = Balancer(
                name, self.discovery.healthy, self.channels, forget=self.discovery.forget
            )
        return self._balancers[name]

    async def consume(
        self,
        queue: str,
        routing_keys: Sequence[str],
        handler: Handler,
        *,
        prefetch: int | None = None,
        idempotent: bool = True,
        grace_seconds: float = 30.0,
    ) -> Consumer:
        """Start a consumer (deduplicated by event id unless told otherwise) until shutdown.

        At shutdown it takes no new messages and gives the in-flight ones `grace_seconds`.
        """
        if idempotent:
            handler = mongo.Inbox(self.db, consumer=queue).wrap(handler)
        consumer = Consumer(self.broker, queue, routing_keys, handler, prefetch=prefetch)
        await consumer.start()
        self.stack.push_async_callback(consumer.stop, grace_seconds)
        return consumer

    async def relay_outbox(
        self, collection: AsyncCollection[mongo.Document], interval_seconds: float
    ) -> OutboxRelay:
        """Relay the events staged in `collection` to RabbitMQ until shutdown."""
        relay = OutboxRelay(collection, self.broker, interval_seconds)
        await relay.start()
        self.stack.push_async_callback(relay.stop)
        return relay

    async def every(
        self, name: str, interval_seconds: float, job: Callable[[], Awaitable[object]]
    ) -> None:
        """Run `job` every `interval_seconds` until shutdown."""
        periodic = Periodic(name, interval_seconds, job)
        await periodic.start()
        self.stack.push_async_callback(periodic.stop)

    async def serve_grpc(
        self, add_servicers: Callable[[grpc.aio.Server], None], service_names: Sequence[str]
    ) -> GrpcServer:
        """Start the gRPC server and register it in Consul; both undone at shutdown."""
        server = GrpcServer(self.settings.grpc, service_names)
        add_servicers(server.server)
        await server.start()
        self.stack.push_async_callback(server.stop)
        registration = Registration.unique(
            self.name, self.settings.grpc.advertise_host, server.port
        )
        await self.discovery.register(registration)
        self.stack.push_async_callback(self.discovery.deregister, registration)
        return server


async def open_platform(
    stack: AsyncExitStack,
    name: str,
    settings: PlatformSettings,
    indexes: Mapping[str, Sequence[IndexModel]] | None = None,
) -> Platform:
    logs.setup(name, settings.log)
    traces = tracing.setup(name, settings.tracing)
    stack.callback(traces.shutdown)

    client = mongo.connect(settings.mongo)
    stack.push_async_callback(client.close)
    db = mongo.database(client, settings.mongo)
    await mongo.ensure_indexes(db, indexes or {})

    broker = Broker(settings.rabbitmq, name=name)
    await broker.connect()
    stack.push_async_callback(broker.close)

    discovery = Discovery(settings.consul)
    stack.push_async_callback(discovery.close)
    channels = Channels(settings.grpc)
    stack.push_async_callback(channels.close)
    return Platform(name, settings, stack, db, broker, discovery, channels)
