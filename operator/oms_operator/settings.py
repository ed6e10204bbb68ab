"""The operator's own settings (`OMS_OPERATOR_*`); logs use the platform's `LOG_*`."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OMS_OPERATOR_")

    # Namespaces to serve; empty means the whole cluster.
    namespaces: list[str] = Field(default_factory=list)
    # Hosts besides the Restaurant's own namespace's Services (`<svc>.<ns>.svc`) that may
    # receive its broker credentials: `rabbitmq.url` and `rabbitmq.managementUrl`.
    broker_hosts: list[str] = Field(default_factory=list)
    cluster_domain: str = "cluster.local"
    # kopf's liveness endpoint (GET /healthz), which the chart's probe calls; 0 turns it off.
    liveness_port: int = Field(default=8080, ge=0, le=65535)
    # Timeout of each call to RabbitMQ's management API and to Consul.
    http_timeout_seconds: float = Field(default=10.0, gt=0)
