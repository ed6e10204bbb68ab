"""Wires the shared plumbing for one service process, in the order shutdown must reverse.

A service's composition root runs `run_service` with a function that builds its parts on the
opened platform, starts its consumers, then serves gRPC last (`serve`, which registers in
Consul), so unwinding leaves Consul first, then drains gRPC calls, then in-flight messages,
then relays what is still staged, then closes connections.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TypeVar

import grpc
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from oms.platform import logs, metrics, mongo, runner, tracing
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer, Handler, Handlers
from oms.platform.discovery import Discovery, Registration
from oms.platform.faults import Faults, FaultSettings
from oms.platform.follower import Follower
from oms.platform.grpc_client import Balancer, Channels, resolving_as_unavailable
from oms.platform.grpc_server import Contract, GrpcServer
from oms.platform.health import DependencyMonitor
from oms.platform.ops_http import OpsServer
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.periodic import Periodic
from oms.platform.runner import Lifecycle
from oms.platform.settings import (
    ConsulSettings,
    GrpcSettings,
    LogSettings,
    MongoSettings,
    OpsSettings,
    RabbitMQSettings,
    RuntimeSettings,
    TracingSettings,
)
from oms.platform.timers import Timers

Servicer = TypeVar("Servicer")


class PlatformSettings(BaseModel):
    """Every plumbing section; each reads its own environment variables."""

    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    rabbitmq: RabbitMQSettings = Field(default_factory=RabbitMQSettings)
    mongo: MongoSettings = Field(default_factory=MongoSettings)
    consul: ConsulSettings = Field(default_factory=ConsulSettings)
    faults: FaultSettings = Field(default_factory=FaultSettings)

    @property
    def faults_allowed(self) -> bool:
        return self.runtime.development or self.faults.enabled


def check_platform(name: str, settings: PlatformSettings) -> None:
    """Refuse to start, in one line, what is unsafe outside development: failure injection,
    and plaintext gRPC nobody asked for (the deployment tests run this on their manifests)."""
    if settings.faults.rules and not settings.faults_allowed:
        runner.refuse_to_start(name, "FAULTS_RULES is set, but faults are off outside development")
    grpc_settings = settings.grpc
    if not (grpc_settings.tls or grpc_settings.tls_insecure or settings.runtime.development):
        runner.refuse_to_start(
            name,
            "gRPC needs mutual TLS outside development: set GRPC_TLS_CERT_FILE, "
            "GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE (or GRPC_TLS_INSECURE=true)",
        )


@dataclass
class Platform:
    name: str
    settings: PlatformSettings
    stack: AsyncExitStack
    broker: Broker
    discovery: Discovery
    channels: Channels
    timers: Timers
    monitor: DependencyMonitor
    ops: OpsServer
    faults: Faults
    client: AsyncMongoClient[mongo.Document] | None = None
    # True from registration to the start of shutdown: `/readyz` says so.
    serving: bool = False
    _balancers: dict[str, Balancer] = field(default_factory=dict)

    def readiness(self) -> tuple[dict[str, bool], frozenset[str]]:
        checks = {**self.monitor.state(), "serving": self.serving}
        return checks, self.monitor.required() | {"serving"}

    @property
    def db(self) -> AsyncDatabase[mongo.Document]:
        """This service's own database."""
        if self.client is None:
            raise RuntimeError(f"{self.name} was opened without a database")
        return mongo.database(self.client, self.settings.mongo, self.name)

    def service(self, name: str) -> Balancer:
        """Channels to the healthy instances of another service, round robin.

        A Consul failure reaches the caller as UNAVAILABLE, like a dead instance.
        """
        if name not in self._balancers:
            self._balancers[name] = Balancer(
                name,
                resolving_as_unavailable(self.discovery.healthy),
                self.channels,
                forget=self.discovery.forget,
            )
        return self._balancers[name]

    async def outbox(
        self,
        collection: AsyncCollection[mongo.Document],
        must_route: Callable[[str], bool],
        sweep_interval: float = 30.0,
    ) -> Outbox:
        """The unit of work for `collection`; its relay publishes until shutdown."""
        relay = OutboxRelay(collection, self.broker, must_route, sweep_interval)
        await relay.start()
        self.stack.push_async_callback(relay.stop)
        return Outbox(collection, relay)

    async def consume(
        self,
        queue: str,
        handlers: Handlers,
        *,
        prefetch: int | None = None,
        grace_seconds: float = 30.0,
        retired: Sequence[str] = (),
    ) -> Consumer:
        """Consume `queue` (no longer bound to `retired`), one handler per event type, until
        shutdown. Handlers must be idempotent (OMS's are compare-and-set by state): delivery is
        at least once. At shutdown the consumer takes no new messages and gives the in-flight
        ones `grace_seconds`."""
        consumer = Consumer(
            self.broker, queue, handlers, prefetch=prefetch, faults=self.faults, retired=retired
        )
        await consumer.start()
        self.stack.push_async_callback(consumer.stop, grace_seconds)
        return consumer

    async def follow(self, routing_keys: Sequence[str], handler: Handler) -> Follower:
        """Follow events with a queue of this process's own (caches, live screens)."""
        follower = Follower(self.broker, routing_keys, handler)
        await follower.start()
        self.stack.push_async_callback(follower.stop)
        return follower

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
        """Start the gRPC server and register it in Consul; both undone at shutdown.

        Its health follows the dependency monitor: NOT_SERVING while a required dependency
        (MongoDB; RabbitMQ for a consumer-only process) is down, SERVING when it is back.
        """
        server = GrpcServer(self.settings.grpc, service_names, self.faults)
        add_servicers(server.server)
        await server.start(serving=self.monitor.healthy)
        self.stack.push_async_callback(server.stop)
        self.monitor.listen(server.set_serving)
        await self.register(server.port)
        return server

    async def serve(self, contract: Contract[Servicer], servicer: Servicer) -> GrpcServer:
        """`serve_grpc` for one servicer of `contract`."""
        return await self.serve_grpc(
            lambda server: contract.add_to_server(servicer, server), [contract.name]
        )

    async def register(self, port: int, advertise_host: str = "") -> None:
        """Register this process in Consul at `port`, checked through its `/readyz`."""
        host = advertise_host or self.settings.grpc.advertise_host
        registration = Registration(
            self.name, host, port, check_url=f"http://{host}:{self.ops.port}/readyz"
        )
        # Serving before registering: Consul checks `/readyz` at once, and a first answer of
        # 503 would keep the new instance out of every caller's list for a check interval.
        self.serving = True
        self.stack.callback(setattr, self, "serving", False)
        await self.discovery.register(registration)
        self.stack.push_async_callback(self.discovery.deregister, registration)


async def open_platform(
    stack: AsyncExitStack,
    name: str,
    settings: PlatformSettings,
    exchange: str,
    indexes: Mapping[str, Sequence[IndexModel]] | None = None,
    *,
    database: bool = True,
    broker_required: bool = False,
) -> Platform:
    """The plumbing of one process. RabbitMQ down makes it unready, unless
    `OPS_READY_WITHOUT_BROKER` lets it keep serving while its outboxes wait;
    `broker_required` (a process that only consumes) ignores that setting."""
    logs.setup(name, settings.log)
    check_platform(name, settings)
    faults = Faults(settings.faults_allowed, settings.faults.rules)
    traces = tracing.setup(name, settings.tracing)
    stack.callback(traces.shutdown)
    monitor = DependencyMonitor(settings.ops.check_interval_seconds)

    client = None
    if database:
        client = mongo.connect(settings.mongo, [metrics.MongoCommands()])
        stack.push_async_callback(client.close)
        await mongo.ensure_indexes(mongo.database(client, settings.mongo, name), indexes or {})
        monitor.add("mongodb", _pings(client))

    broker = Broker(settings.rabbitmq, exchange, name=name)
    await broker.connect()
    stack.push_async_callback(broker.close)
    required = broker_required or not settings.ops.ready_without_broker
    monitor.add("rabbitmq", _connected(broker), required=required)

    await monitor.start()
    stack.push_async_callback(monitor.stop)
    discovery = Discovery(settings.consul)
    stack.push_async_callback(discovery.close)
    channels = Channels(settings.grpc)
    stack.push_async_callback(channels.close)
    platform = Platform(
        name,
        settings,
        stack,
        broker,
        discovery,
        channels,
        Timers(broker),
        monitor,
        OpsServer(settings.ops.host, settings.ops.port, lambda: platform.readiness()),
        faults,
        client,
    )
    await platform.ops.start()
    stack.push_async_callback(platform.ops.stop)
    return platform


Settings = TypeVar("Settings", bound=PlatformSettings)


async def run_service(
    lifecycle: Lifecycle,
    name: str,
    settings: Settings,
    exchange: str,
    build: Callable[[Platform, Settings], Awaitable[None]],
    indexes: Mapping[str, Sequence[IndexModel]] | None = None,
    **options: bool,
) -> None:
    """A service process from start to stop: the platform opened (`options` as for
    `open_platform`), the service built on it (`build` serves last), ready until asked to
    stop, then everything unwound."""
    async with AsyncExitStack() as stack:
        platform = await open_platform(stack, name, settings, exchange, indexes, **options)
        await build(platform, settings)
        runner.settle_heap()
        lifecycle.mark_ready()
        await lifecycle.stopped()


def _pings(client: AsyncMongoClient[mongo.Document]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        await mongo.ping(client)
        return True

    return check


def _connected(broker: Broker) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return broker.connected

    return check
