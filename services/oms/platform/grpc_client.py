"""gRPC clients: one channel per target for the whole process, and a deadline on every call."""

from __future__ import annotations

import itertools
import time
import weakref
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health_pb2

from oms.platform import grpc_tls
from oms.platform.settings import GrpcSettings

Resolve = Callable[[str], Awaitable[list[str]]]
T = TypeVar("T")
Stub = TypeVar("Stub")


class DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    """Gives every call that did not set its own timeout the configured deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def intercept_unary_unary(
        self,
        continuation: Callable[[grpc.aio.ClientCallDetails, Any], Any],
        client_call_details: grpc.aio.ClientCallDetails,
        request: Any,
    ) -> Any:
        if client_call_details.timeout is None:
            client_call_details = grpc.aio.ClientCallDetails(
                method=client_call_details.method,
                timeout=self.seconds,
                metadata=client_call_details.metadata,
                credentials=client_call_details.credentials,
                wait_for_ready=client_call_details.wait_for_ready,
            )
        return await continuation(client_call_details, request)


class Channels:
    """Caches one `grpc.aio.Channel` per "host:port"; HTTP/2 multiplexes calls over it."""

    def __init__(self, settings: GrpcSettings) -> None:
        self.settings = settings
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._credentials = grpc_tls.channel_credentials(settings)
        self.opened = 0

    def get(self, target: str) -> grpc.aio.Channel:
        channel = self._channels.get(target)
        if channel is None:
            interceptors = [DefaultDeadline(self.settings.default_deadline_seconds)]
            options = [("grpc.keepalive_time_ms", 30_000), *grpc_tls.channel_options(self.settings)]
            if self._credentials is None:
                channel = grpc.aio.insecure_channel(
                    target, interceptors=interceptors, options=options
                )
            else:
                channel = grpc.aio.secure_channel(
                    target, self._credentials, interceptors=interceptors, options=options
                )
            self._channels[target] = channel
            self.opened += 1
        return channel

    async def close(self) -> None:
        channels, self._channels = list(self._channels.values()), {}
        for channel in channels:
            await channel.close()


def unavailable(details: str) -> grpc.aio.AioRpcError:
    """The error a call answers when no instance can take it (callers may retry)."""
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details
    )


def resolving_as_unavailable(resolve: Resolve) -> Resolve:
    """`resolve`, with its own failure (Consul unreachable, no cache yet) as UNAVAILABLE."""

    async def resolved(service: str) -> list[str]:
        try:
            return await resolve(service)
        except Exception as exc:
            raise unavailable(f"cannot look up {service}: {exc!r}") from exc

    return resolved


@dataclass
class Balancer:
    """Client-side round robin over the healthy instances of a service, found by `resolve`.

    An instance a call found UNAVAILABLE is skipped for `quarantine_seconds`, by every call,
    so a dead instance stops taking traffic before Consul's next health check notices it;
    `forget` then drops what discovery cached about the service.
    """

    service: str
    resolve: Resolve
    channels: Channels
    forget: Callable[[str], None] = lambda _: None
    quarantine_seconds: float = 5.0
    _quarantined: dict[str, float] = field(default_factory=dict, init=False)
    _counter: Iterator[int] = field(default_factory=itertools.count, init=False)

    async def call(
        self, invoke: Callable[[grpc.aio.Channel], Awaitable[T]], attempts: int = 3
    ) -> T:
        """Run `invoke` on an instance; when it is UNAVAILABLE (dead, draining), try another.

        Only for calls that are safe to repeat: OMS's are idempotent per order id.
        """
        for attempt in range(1, attempts + 1):
            target = await self.pick()
            try:
                return await invoke(self.channels.get(target))
            except grpc.aio.AioRpcError as exc:
                if exc.code() != grpc.StatusCode.UNAVAILABLE or attempt == attempts:
                    raise
                self._quarantined[target] = time.monotonic() + self.quarantine_seconds
                self.forget(self.service)
        raise AssertionError("unreachable")

    async def channel(self) -> grpc.aio.Channel:
        return self.channels.get(await self.pick())

    async def pick(self) -> str:
        """The next instance round robin, passing over quarantined ones while others remain."""
        targets = await self.resolve(self.service)
        now = time.monotonic()
        usable = [t for t in targets if self._quarantined.get(t, 0.0) <= now] or targets
        if not usable:
            raise unavailable(f"no healthy instance of {self.service}")
        return usable[next(self._counter) % len(usable)]


class Client(Generic[Stub]):
    """Calls to one service through its generated stub, each on an instance its balancer
    picks: `await client.call(lambda stub: stub.GetOrder(request))`.

    `Stub` is the stub's async type, quoted where it is a base class's argument: mypy-protobuf
    declares `<Service>AsyncStub` for type checkers only.
    """

    def __init__(self, balancer: Balancer, stub: Callable[[grpc.aio.Channel], Stub]) -> None:
        self.balancer = balancer
        self._stub = stub
        # One stub per channel: building one makes a callable for every method of the
        # service, which cost more than some calls (py-spy); gone with its channel.
        self._stubs: weakref.WeakKeyDictionary[grpc.aio.Channel, Stub] = weakref.WeakKeyDictionary()

    async def call(self, rpc: Callable[[Stub], Awaitable[T]]) -> T:
        """`rpc` on the stub of an instance; see `Balancer.call` (only for repeatable calls)."""
        return await self.balancer.call(lambda channel: rpc(self._stub_of(channel)))

    def _stub_of(self, channel: grpc.aio.Channel) -> Stub:
        stub = self._stubs.get(channel)
        if stub is None:
            stub = self._stubs[channel] = self._stub(channel)
        return stub


async def check_health(channel: grpc.aio.Channel, service: str = "") -> str:
    """The serving status name (`SERVING`, `NOT_SERVING`, ...) the server reports."""
    check = channel.unary_unary(
        "/grpc.health.v1.Health/Check",
        request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
        response_deserializer=health_pb2.HealthCheckResponse.FromString,
    )
    response = await check(health_pb2.HealthCheckRequest(service=service))
    name: str = health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)
    return name
