"""The Gateway's composition root: no database; Consul, gRPC channels, a broker follower
for live updates, and HTTP.

Shutdown unwinds in reverse: leave Consul (no new traffic is sent our way), close the live
streams, let uvicorn finish the in-flight requests, then close the channels, the broker, and
the tracer (flushing the last spans).
"""

from __future__ import annotations

import ipaddress

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from oms import domain_events as events
from oms.gateway import api
from oms.gateway.auth import DEFAULT_ADMIN_TOKEN, StaffAuth
from oms.gateway.catalog import Catalog
from oms.gateway.clients import Backends
from oms.gateway.http_server import HttpServer
from oms.gateway.live import LiveFeed
from oms.gateway.pages import ScreenOptions
from oms.gateway.ratelimit import TokenBuckets
from oms.gateway.sessions import Sessions
from oms.platform import runner, tracing
from oms.platform.bootstrap import Platform, PlatformSettings, run_service
from oms.platform.grpc_client import resolving_as_unavailable
from oms.platform.runner import Lifecycle

NAME = "gateway"
# Documented local default; only the development mode accepts it.
DEFAULT_SESSION_SECRET = "oms-local-session-secret"  # noqa: S105


class GatewaySettings(BaseSettings):
    """`GATEWAY_*`: where it listens, its secrets, limits and live updates."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    # What Consul is told to check and hand out (the pod IP when `host` is 0.0.0.0).
    advertise_host: str = "127.0.0.1"
    admin_token: SecretStr = SecretStr(DEFAULT_ADMIN_TOKEN)
    session_secret: SecretStr = SecretStr(DEFAULT_SESSION_SECRET)
    session_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    staff_session_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    # Mark cookies `Secure` (set it when the gateway is served over HTTPS).
    secure_cookies: bool = False
    shutdown_grace_seconds: int = Field(default=10, ge=0)
    # Order calls Stock (and Menu when its cache is cold), each within
    # GRPC_DEFAULT_DEADLINE_SECONDS: the edge waits longer than the calls it causes.
    create_order_deadline_seconds: float = Field(default=15.0, gt=0)
    readiness_timeout_seconds: float = Field(default=1.0, gt=0)
    # Per customer session; a token bucket refilled at this rate, holding `burst`.
    order_rate_per_minute: float = Field(default=60.0, gt=0)
    order_burst: int = Field(default=20, ge=1)
    # New customer sessions per client address: without it a session per order would get
    # around the order limit. A customer needs one per device and week; the burst lets a
    # group behind one shared address (a NAT) arrive at once.
    session_rate_per_minute: float = Field(default=10.0, gt=0)
    session_burst: int = Field(default=30, ge=1)
    # Per client address.
    webhook_rate_per_second: float = Field(default=50.0, gt=0)
    webhook_burst: int = Field(default=200, ge=1)
    # Proxies (an ingress, a load balancer) whose X-Forwarded-For names the client, as
    # comma-separated addresses or networks: per-address limits then count the real client,
    # not the proxy. Empty (the default) believes nobody's header: a client could forge it.
    trusted_proxies: str = ""
    menu_cache_seconds: float = Field(default=2.0, ge=0)
    sse_heartbeat_seconds: float = Field(default=15.0, gt=0)
    # The screens: the name they show, and when a kitchen ticket turns amber, then red.
    shop_name: str = Field(default="OMS", min_length=1, max_length=60)
    kds_warn_seconds: float = Field(default=300.0, gt=0)
    kds_late_seconds: float = Field(default=600.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, value: str) -> str:
        for entry in proxy_list(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value

    @property
    def trusted_proxy_list(self) -> list[str]:
        return proxy_list(self.trusted_proxies)


def proxy_list(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


class Settings(PlatformSettings):
    gateway: GatewaySettings = Field(default_factory=GatewaySettings)


def check(settings: Settings) -> None:
    """Refuse to start, in one line, with a documented placeholder outside development."""
    if settings.runtime.development:
        return
    gateway = settings.gateway
    if gateway.admin_token.get_secret_value() == DEFAULT_ADMIN_TOKEN:
        runner.refuse_to_start(NAME, "GATEWAY_ADMIN_TOKEN is the documented placeholder")
    if gateway.session_secret.get_secret_value() == DEFAULT_SESSION_SECRET:
        runner.refuse_to_start(NAME, "GATEWAY_SESSION_SECRET is the documented placeholder")


async def build(platform: Platform, settings: Settings) -> None:
    """Start serving and register in Consul; everything is undone when the platform unwinds."""
    gateway = settings.gateway
    backends = Backends.connect(
        platform.service,
        resolving_as_unavailable(platform.discovery.healthy),
        platform.channels,
        gateway.create_order_deadline_seconds,
    )
    catalog = Catalog(backends, gateway.menu_cache_seconds)
    await platform.follow([events.MenuChanged.ROUTING_KEY], catalog.on_menu_changed)
    feed = LiveFeed()
    await platform.follow(events.ORDER_DECISIONS, feed.on_event)
    secret = gateway.session_secret.get_secret_value()
    edge = api.Edge(
        backends=backends,
        catalog=catalog,
        sessions=Sessions(secret, gateway.session_ttl_seconds, gateway.secure_cookies),
        staff=StaffAuth(
            gateway.admin_token.get_secret_value(),
            secret,
            gateway.staff_session_ttl_seconds,
            gateway.secure_cookies,
        ),
        feed=feed,
        order_limit=TokenBuckets(gateway.order_rate_per_minute / 60, gateway.order_burst),
        session_limit=TokenBuckets(gateway.session_rate_per_minute / 60, gateway.session_burst),
        webhook_limit=TokenBuckets(gateway.webhook_rate_per_second, gateway.webhook_burst),
        readiness_timeout=gateway.readiness_timeout_seconds,
        heartbeat_seconds=gateway.sse_heartbeat_seconds,
        # In development only; Payment itself refuses unless it uses stripe-mock.
        test_payments=settings.runtime.development,
        screens=ScreenOptions(
            gateway.shop_name, gateway.kds_warn_seconds, gateway.kds_late_seconds
        ),
    )
    app = api.create_app(edge)
    tracing.instrument_fastapi(app)
    server = HttpServer(
        app,
        gateway.host,
        gateway.port,
        gateway.shutdown_grace_seconds,
        trusted_proxies=gateway.trusted_proxy_list,
    )
    port = await server.start()
    platform.stack.push_async_callback(server.stop)
    platform.stack.callback(feed.close_all)  # open streams end first, so uvicorn can drain
    await platform.register(port, advertise_host=gateway.advertise_host)


async def main(lifecycle: Lifecycle, settings: Settings) -> None:
    check(settings)
    await run_service(lifecycle, NAME, settings, events.EXCHANGE, build, database=False)
