"""Small helpers shared by the gateway tests."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from pydantic import SecretStr

from devtools import servers
from devtools.platform import LocalPlatform
from oms.gateway.app import GatewaySettings, Settings
from oms.platform.settings import ConsulSettings, GrpcSettings, TracingSettings

ADMIN_TOKEN = "test-admin-token"
WEBHOOK_SECRET = "whsec_gateway_tests"


def consul_settings(consul: servers.Consul, platform: LocalPlatform) -> ConsulSettings:
    """The platform's Consul prefix, quick checks and a short cache, so changes show fast."""
    return ConsulSettings(
        http_addr=consul.http_address,
        service_prefix=platform.consul_prefix,
        check_interval="500ms",
        cache_ttl_seconds=0.2,
    )


def gateway_settings(consul: servers.Consul, platform: LocalPlatform) -> Settings:
    """An in-process gateway on a free port; each gRPC call gets 2 seconds."""
    return Settings(
        tracing=TracingSettings(sdk_disabled=True),
        grpc=GrpcSettings(default_deadline_seconds=2),
        consul=consul_settings(consul, platform),
        gateway=GatewaySettings(
            port=0, admin_token=SecretStr(ADMIN_TOKEN), shutdown_grace_seconds=5
        ),
    )


def customer() -> str:
    return f"cust-{uuid.uuid4().hex[:8]}"


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, at: int | None = None) -> str:
    """A Stripe-Signature header, computed the way Stripe documents it."""
    timestamp = int(time.time()) if at is None else at
    signed = f"{timestamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def error_of(response: httpx.Response) -> dict[str, Any]:
    """The error object, checking the shape every error shares."""
    body = response.json()
    error: dict[str, Any] = body["error"]
    assert isinstance(error["code"], str), body
    assert error["code"], body
    assert isinstance(error["message"], str), body
    assert error["message"], body
    return error


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 15) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"condition not met within {within}s")
