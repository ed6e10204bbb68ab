"""The Gateway's composition root: no database, no broker; Consul, gRPC channels and HTTP.

Shutdown unwinds in reverse: leave Consul (no new traffic is sent our way), let uvicorn
finish the in-flight requests, then close the channels they used, Consul's client and the
tracer (flushing the last spans).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from dataclasses import dataclass

from fastapi import FastAPI
from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms.gateway import api
from oms.gateway.auth import DEFAULT_ADMIN_TOKEN
from oms.gateway.clients import Backends
from oms.gateway.http_server import HttpServer
from oms.platform import logs, tracing
from oms.platform.discovery import Discovery, Registration
from oms.platform.grpc_client import Channels
from oms.platform.runner import Lifecycle
from oms.platform.settings import ConsulSettings, GrpcSettings, LogSettings, TracingSettings

NAME = "gateway"
log = logs.get(__name__)


class GatewaySettings(BaseSettings):
    """`GATEWAY_HOST`, `GATEWAY_PORT`, `GATEWAY_ADMIN_TOKEN` and how we drain and probe."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # What Consul is told to check and hand out (the pod IP when `host` is 0.0.0.0).
    advertise_host: str = "127.0.0.1"
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)
    shutdown_grace_seconds: int = Field(default=10, ge=0)
    # Order calls Menu then Stock, each within GRPC_DEFAULT_DEADLINE_SECONDS: the edge waits
    # longer than the calls it causes, or it answers 503 for orders that are then created.
    create_order_deadline_seconds: float = Field(default=15.0, gt=0)
    readiness_timeout_seconds: float = Field(default=1.0, gt=0)


class Settings(BaseModel):
    """Only the plumbing the gateway uses; `GRPC_DEFAULT_DEADLINE_SECONDS` bounds each call."""

    log: LogSettings = Field(default_factory=LogSettings)
    tracing: TracingSettings = Field(default_factory=TracingSettings)
    grpc: GrpcSettings = Field(default_factory=GrpcSettings)
    consul: ConsulSettings = Field(default_factory=ConsulSettings)
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)


@dataclass(frozen=True)
class Gateway:
    app: FastAPI
    server: HttpServer
    channels: Channels
    registration: Registration

    @property
    def url(self) -> str:
        return f"http://{self.registration.address}:{self.server.port}"


async def open_gateway(stack: AsyncExitStack, settings: Settings) -> Gateway:
    """Start serving and register in Consul; everything is undone when `stack` unwinds."""
    traces = tracing.setup(NAME, settings.tracing)
    stack.callback(traces.shutdown)
    gateway = settings.gateway
    if gateway.admin_token.get_secret_value() == DEFAULT_ADMIN_TOKEN:
        log.warning("gateway.default_admin_token", hint="set GATEWAY_ADMIN_TOKEN")

    discovery = Discovery(settings.consul)
    stack.push_async_callback(discovery.close)
    channels = Channels(settings.grpc)
    stack.push_async_callback(channels.close)
    backends = Backends.connect(discovery, channels, gateway.create_order_deadline_seconds)

    app = api.create_app(backends, gateway.admin_token, gateway.readiness_timeout_seconds)
    tracing.instrument_fastapi(app)
    server = HttpServer(app, gateway.host, gateway.port, gateway.shutdown_grace_seconds)
    port = await server.start()
    stack.push_async_callback(server.stop)

    registration = Registration.unique(
        NAME, gateway.advertise_host, port, http_health_path="/healthz"
    )
    await discovery.register(registration)
    stack.push_async_callback(discovery.deregister, registration)
    return Gateway(app, server, channels, registration)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    logs.setup(NAME, settings.log)  # here, not in open_gateway: tests embed that one
    async with AsyncExitStack() as stack:
        await open_gateway(stack, settings)
        lifecycle.mark_ready()
        await lifecycle.stopped()
