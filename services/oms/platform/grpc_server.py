"""A grpc.aio server with the standard health service, access logs and graceful stop."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import grpc
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from oms.contracts.v1 import faults_pb2_grpc
from oms.platform import errors, grpc_tls, logs, metrics
from oms.platform.fault_service import FaultApi
from oms.platform.faults import NO_FAULTS, Faults
from oms.platform.settings import GrpcSettings

log = logs.get(__name__)
_Req = TypeVar("_Req")
_Resp = TypeVar("_Resp")
Servicer = TypeVar("Servicer")
UseCases = TypeVar("UseCases")
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
DETAILS_KEY = "oms-details-bin"
STATUS_FOR_ERROR: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.ResourceExhausted: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
}


PASSED_ON = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def status_for(error: errors.DomainError) -> grpc.StatusCode:
    for kind in type(error).__mro__:
        if kind in STATUS_FOR_ERROR:
            return STATUS_FOR_ERROR[kind]
    return grpc.StatusCode.UNKNOWN


@dataclass(frozen=True)
class Contract(Generic[Servicer]):
    """The gRPC service a proto file declares (`<x>_pb2.DESCRIPTOR`; one service per file),
    and the function that adds a servicer of it to a server (`<x>_pb2_grpc.add_..._to_server`)."""

    file: FileDescriptor
    add_to_server: Callable[[Servicer, grpc.aio.Server], None]

    @property
    def name(self) -> str:
        (service,) = self.file.services_by_name.values()
        return service.full_name


class Api(Generic[UseCases]):
    """A servicer over one service's use cases: protobuf in, a use case, protobuf out. What
    the use cases raise (`oms.platform.errors`) the `CallInterceptor` turns into codes."""

    def __init__(self, handlers: UseCases) -> None:
        self.handlers = handlers


class CallInterceptor(grpc.aio.ServerInterceptor):
    """For each unary call: injected faults first, then domain errors into status codes, and
    the outcome into a histogram (and a debug log line)."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[_Req, _Resp] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[_Req, _Resp] | None:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method
        inner: Any = handler.unary_unary

        async def logged(request: Any, context: Any) -> Any:
            started = time.perf_counter()
            try:
                await self.faults.before_rpc(method, context)
                return await inner(request, context)
            except errors.DomainError as exc:
                trailers = ((DETAILS_KEY, exc.details),) if exc.details else ()
                await context.abort(status_for(exc), str(exc), trailing_metadata=trailers)
            except grpc.aio.AioRpcError as exc:
                # A call this one made failed: an outage stays an outage (the caller may
                # retry); anything else is our failure, not the caller's.
                code = exc.code() if exc.code() in PASSED_ON else grpc.StatusCode.INTERNAL
                await context.abort(code, exc.details() or code.name.lower())
            finally:
                code = context.code() or grpc.StatusCode.OK
                name = code.name if isinstance(code, grpc.StatusCode) else str(code)
                seconds = time.perf_counter() - started
                metrics.RPC_SERVER_SECONDS.labels(method, name).observe(seconds)
                # Per call at debug: the histogram above is what operators watch.
                log.debug("grpc.call", method=method, code=name, ms=round(seconds * 1000, 2))

        wrapped: grpc.RpcMethodHandler[_Req, _Resp] = grpc.unary_unary_rpc_method_handler(
            logged,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
        return wrapped


class GrpcServer:
    """Serves the given servicers plus `grpc.health.v1.Health`.

    Health starts NOT_SERVING and flips to SERVING only after `start`, and back to NOT_SERVING
    at the beginning of `stop`, so Consul and load balancers drain us before we go.
    """

    def __init__(
        self,
        settings: GrpcSettings,
        service_names: Sequence[str],
        faults: Faults = NO_FAULTS,
    ) -> None:
        self.settings = settings
        self.service_names = list(service_names)
        self.server = grpc.aio.server(interceptors=[CallInterceptor(faults)])
        if faults.allowed:
            faults_pb2_grpc.add_FaultServiceServicer_to_server(FaultApi(faults), self.server)
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self.port = 0
        self._stopping = False

    async def start(self, serving: bool = True) -> int:
        """Bind, start and report `serving`; returns the bound port (useful with port 0)."""
        address = f"{self.settings.host}:{self.settings.port}"
        credentials = grpc_tls.server_credentials(self.settings)
        if credentials is None:
            self.port = self.server.add_insecure_port(address)
        else:
            self.port = self.server.add_secure_port(address, credentials)
        await self.server.start()
        await self.set_serving(serving)
        log.info("grpc.started", port=self.port, services=self.service_names)
        return self.port

    async def set_serving(self, serving: bool) -> None:
        # Once stopping, nothing (say, a dependency coming back) makes us SERVING again.
        status = SERVING if serving and not self._stopping else NOT_SERVING
        for name in ["", *self.service_names]:
            await self.health.set(name, status)

    async def stop(self) -> None:
        """Report NOT_SERVING, refuse new calls and give in-flight ones the grace period."""
        self._stopping = True
        await self.set_serving(False)
        await self.server.stop(self.settings.shutdown_grace_seconds)
        log.info("grpc.stopped", port=self.port)

    @property
    def address(self) -> str:
        return f"{self.settings.advertise_host}:{self.port}"
