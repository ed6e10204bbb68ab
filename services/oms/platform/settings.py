"""Settings sections read from environment variables.

Each section is its own `BaseSettings` with an env prefix, so a service composes only the
sections it needs (see `ServiceSettings`) and every variable has one documented name. The
defaults are the loopback addresses `docker compose` and the dev mode publish, so a local run
needs no environment at all. Settings are built once in a service's `__main__`, never at import.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogSettings(BaseSettings):
    """`LOG_LEVEL` (default INFO) and `LOG_FORMAT` (`json` for machines, `console` for people)."""

    model_config = SettingsConfigDict(env_prefix="LOG_")

    level: str = "INFO"
    format: str = Field(default="json", pattern="^(json|console)$")


class RuntimeSettings(BaseSettings):
    """`OMS_MODE`: `production` (the default) or `development`, the local mode `scripts/dev`
    and docker compose set. Only development accepts the documented placeholder secrets."""

    model_config = SettingsConfigDict(env_prefix="OMS_")

    mode: Literal["production", "development"] = "production"

    @property
    def development(self) -> bool:
        return self.mode == "development"


class TracingSettings(BaseSettings):
    """The standard OpenTelemetry variables: `OTEL_SDK_DISABLED`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
    `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` (e.g. `parentbased_traceidratio` and
    `0.01` keep one trace in a hundred, and every span of a kept trace)."""

    model_config = SettingsConfigDict(env_prefix="OTEL_")

    sdk_disabled: bool = False
    exporter_otlp_endpoint: str = "http://127.0.0.1:4317"
    traces_sampler: Literal[
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ] = "parentbased_always_on"
    traces_sampler_arg: float = Field(default=1.0, ge=0, le=1)


class OutboxSettings(BaseSettings):
    """Part of a service's own section: `<SERVICE>_OUTBOX_SWEEP_SECONDS`, how often its outbox
    relay publishes again what an earlier publish left behind."""

    outbox_sweep_seconds: float = Field(default=30.0, gt=0)


class OpsSettings(BaseSettings):
    """`OPS_HOST` / `OPS_PORT`: the ops HTTP server (`/metrics`, `/healthz`, `/readyz`);
    port 0 picks a free one."""

    model_config = SettingsConfigDict(env_prefix="OPS_")

    host: str = "127.0.0.1"
    port: int = Field(default=9464, ge=0, le=65535)
    # How often the process checks that MongoDB and RabbitMQ answer (readiness).
    check_interval_seconds: float = Field(default=2.0, gt=0)
    # RabbitMQ down makes a process unready, unless this says a process that writes through
    # an outbox may stay ready and keep accepting work (its events wait in the outbox).
    # A process that only consumes (the kitchen) is unready without its broker either way.
    ready_without_broker: bool = False


class GrpcSettings(BaseSettings):
    """Where this process serves gRPC and how long outgoing calls may take."""

    model_config = SettingsConfigDict(env_prefix="GRPC_")

    # Address to bind; `advertise_host` is what other services are told (Consul, the pod IP).
    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    advertise_host: str = "127.0.0.1"
    default_deadline_seconds: float = Field(default=5.0, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    # Mutual TLS: this process's certificate and key, and the CA every peer's certificate
    # must be signed by (cert-manager's `tls.crt`, `tls.key`, `ca.crt`). All three, or none.
    tls_cert_file: str = ""
    tls_key_file: str = ""
    tls_ca_file: str = ""
    # The name peers' certificates are checked for (a SAN every service certificate carries,
    # since callers reach instances by address).
    tls_server_name: str = "oms-services"
    # Plain gRPC outside the development mode, on purpose (`GRPC_TLS_INSECURE=true`).
    tls_insecure: bool = False

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file or self.tls_key_file or self.tls_ca_file)

    @model_validator(mode="after")
    def _all_or_none(self) -> GrpcSettings:
        files = (self.tls_cert_file, self.tls_key_file, self.tls_ca_file)
        if any(files) and not all(files):
            raise ValueError(
                "GRPC_TLS_CERT_FILE, GRPC_TLS_KEY_FILE and GRPC_TLS_CA_FILE go together"
            )
        return self


class RabbitMQSettings(BaseSettings):
    """`RABBITMQ_URL`, consumer prefetch and the retry schedule."""

    model_config = SettingsConfigDict(env_prefix="RABBITMQ_")

    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    channel_pool_size: int = Field(default=4, ge=1, le=64)
    prefetch: int = Field(default=16, ge=1, le=1000)
    # One delay queue per step; a message that fails len(retry_delays_ms) + 1 times is parked.
    retry_delays_ms: list[int] = Field(default_factory=lambda: [1_000, 5_000, 30_000, 120_000])

    @field_validator("retry_delays_ms")
    @classmethod
    def _delays_grow(cls, delays: list[int]) -> list[int]:
        if any(d <= 0 for d in delays) or delays != sorted(set(delays)):
            raise ValueError("retry delays must be positive, distinct and increasing")
        return delays


class MongoSettings(BaseSettings):
    """`MONGODB_URL` and `MONGODB_DATABASE`."""

    model_config = SettingsConfigDict(env_prefix="MONGODB_")

    url: str = "mongodb://127.0.0.1:27017/"
    database: str = "oms"
    max_pool_size: int = Field(default=20, ge=1)


class ConsulSettings(BaseSettings):
    """Consul's own `CONSUL_HTTP_ADDR`, plus how we check and cache registrations."""

    model_config = SettingsConfigDict(env_prefix="CONSUL_")

    http_addr: str = "127.0.0.1:8500"
    check_interval: str = "5s"
    # Generous: a process busy under load answers its /readyz late, and is not down for it.
    check_timeout: str = "5s"
    deregister_critical_after: str = "1m"
    cache_ttl_seconds: float = Field(default=5.0, ge=0)
    # Prefixed to every service name registered and resolved, so several restaurants (or
    # test platforms) can share one Consul without finding each other's instances.
    service_prefix: str = Field(default="", pattern=r"^([a-z0-9][a-z0-9-]*-)?$")

    @property
    def host(self) -> str:
        return self._split()[0]

    @property
    def port(self) -> int:
        return self._split()[1]

    def _split(self) -> tuple[str, int]:
        address = self.http_addr.removeprefix("http://")
        host, _, port = address.rpartition(":")
        return host or "127.0.0.1", int(port or 8500)
