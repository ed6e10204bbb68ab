"""The gateway's part of the Restaurant spec: its Service, secrets, public URL, rate limits
and the proxies in front of it."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import Field, field_validator

from oms_operator.spec_base import Spec


class AdminTokenRef(Spec):
    name: str
    key: str = "admin-token"


class SessionSecretRef(Spec):
    name: str
    key: str = "session-secret"


class RateLimits(Spec):
    """The gateway's token buckets (its own defaults): orders per session; new sessions and
    webhooks per client address."""

    orders_per_minute: float = Field(default=60.0, gt=0)
    order_burst: int = Field(default=20, ge=1)
    sessions_per_minute: float = Field(default=10.0, gt=0)
    session_burst: int = Field(default=30, ge=1)
    webhooks_per_second: float = Field(default=50.0, gt=0)
    webhook_burst: int = Field(default=200, ge=1)


class Gateway(Spec):
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    node_port: int | None = None
    admin_token_secret_ref: AdminTokenRef | None = None
    session_secret_ref: SessionSecretRef | None = None
    # Where customers reach the gateway: Stripe sends them back there after paying.
    public_url: str | None = None
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    # Proxies whose X-Forwarded-For names the client (the ingress controller's pods).
    trusted_proxies: tuple[str, ...] = ()

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses_or_networks(cls, proxies: tuple[str, ...]) -> tuple[str, ...]:
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(TRUSTED_PROXY_FORMAT) from None
        return proxies


TRUSTED_PROXY_FORMAT = "each of spec.gateway.trustedProxies must be an IP address or a CIDR network"
