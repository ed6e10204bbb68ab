"""The Restaurant spec as typed values, parsed from the custom resource's body.

The API server has already validated the spec against the CRD's schema and filled in its
defaults; the defaults here repeat them so that a spec built in code (tests, tools) reads the
same. Field names are the CRD's camelCase ones through aliases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from oms_operator import naming
from oms_operator.gateway_spec import Gateway
from oms_operator.network_spec import NetworkPolicy
from oms_operator.spec_base import Spec


class Image(Spec):
    repository: str = "oms"
    tag: str = "latest"
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"

    @property
    def reference(self) -> str:
        return f"{self.repository}:{self.tag}"


class MenuItem(Spec):
    id: str
    name: str
    description: str = ""
    price_minor: int = Field(ge=0)
    currency: str
    stock: int | None = Field(default=None, ge=0)


class ConfigMapRef(Spec):
    name: str
    key: str = naming.SEED_FILE


class Menu(Spec):
    items: tuple[MenuItem, ...] | None = None
    config_map_ref: ConfigMapRef | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Menu:
        if (self.items is None) == (self.config_map_ref is None):
            raise ValueError("set exactly one of spec.menu.items and spec.menu.configMapRef")
        return self


class Kitchen(Spec):
    workers: int = Field(default=2, ge=0, le=50)
    seconds_per_item: float = Field(default=2.0, ge=0)
    # The kitchen's own defaults (KITCHEN_LONGEST_COOK_SECONDS, KITCHEN_DRAIN_SECONDS).
    longest_cook_seconds: float = Field(default=60.0, ge=0, le=3600)
    drain_seconds: float = Field(default=20.0, ge=0, le=3600)


# Pods per service, at least one (the kitchen follows spec.kitchen.workers instead).
ReplicaCount = Annotated[int, Field(ge=1)]


class Replicas(Spec):
    menu: ReplicaCount = 1
    stock: ReplicaCount = 1
    order: ReplicaCount = 1
    payment: ReplicaCount = 1
    gateway: ReplicaCount = 1


class SecretKeyRef(Spec):
    name: str
    key: str


class StripeSecretRef(Spec):
    name: str
    api_key_key: str = "api-key"
    webhook_secret_key: str = "webhook-secret"  # noqa: S105 (a key's name)


class Stripe(Spec):
    secret_ref: StripeSecretRef | None = None
    api_base: str = "https://api.stripe.com"


class CredentialsRef(Spec):
    name: str
    username_key: str = "username"
    password_key: str = "password"  # noqa: S105 (a key's name)


class RabbitMQ(Spec):
    url: str
    management_url: str
    credentials_secret_ref: CredentialsRef
    vhost: str | None = None
    retry_delays_ms: tuple[int, ...] = (1_000, 5_000, 30_000, 120_000)

    @property
    def host_port(self) -> str:
        """`host:port` of the AMQP listener (5672 when the URL names no port)."""
        address = self.url.split("://", 1)[1].rstrip("/")
        return address if ":" in address else f"{address}:5672"

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]


class MongoDB(Spec):
    url: str
    database: str | None = None


class Consul(Spec):
    address: str


class Tracing(Spec):
    enabled: bool = True
    otlp_endpoint: str = "http://jaeger-collector:4317"
    sampler: Literal[
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
    ] = "parentbased_always_on"
    sampler_arg: float = Field(default=1.0, ge=0, le=1)


class GrpcTLS(Spec):
    """Mutual TLS from a Secret in cert-manager's layout (tls.crt, tls.key, ca.crt), or
    `insecure: true`: plaintext gRPC, chosen on purpose (exactly one of the two)."""

    secret_name: str | None = None
    insecure: bool = False

    @model_validator(mode="after")
    def _one_choice(self) -> GrpcTLS:
        if (self.secret_name is None) != self.insecure:
            raise ValueError(GRPC_TLS_CHOICE)
        return self


GRPC_TLS_CHOICE = (
    "set exactly one of spec.grpcTLS.secretName (mutual TLS) and spec.grpcTLS.insecure: true "
    "(plaintext gRPC on purpose)"
)


class Logging(Spec):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "console"] = "json"


def _quantities(**values: int | str) -> dict[str, int | str]:
    return values


class Resources(Spec):
    requests: dict[str, int | str] = Field(
        default_factory=lambda: _quantities(cpu="50m", memory="128Mi")
    )
    limits: dict[str, int | str] = Field(default_factory=lambda: _quantities(memory="256Mi"))


class RestaurantSpec(Spec):
    display_name: str
    mode: Literal["production", "development"] = "production"
    menu: Menu
    rabbitmq: RabbitMQ
    mongodb: MongoDB
    consul: Consul
    image: Image = Field(default_factory=Image)
    kitchen: Kitchen = Field(default_factory=Kitchen)
    replicas: Replicas = Field(default_factory=Replicas)
    gateway: Gateway = Field(default_factory=Gateway)
    stripe: Stripe = Field(default_factory=Stripe)
    tracing: Tracing = Field(default_factory=Tracing)
    logging: Logging = Field(default_factory=Logging)
    resources: Resources = Field(default_factory=Resources)
    grpc_tls: GrpcTLS | None = Field(default=None, alias="grpcTLS")
    network_policy: NetworkPolicy = Field(default_factory=NetworkPolicy)

    @model_validator(mode="after")
    def _production_has_its_secrets(self) -> RestaurantSpec:
        # The services refuse their documented placeholders outside development (exit 78).
        if self.mode == "production" and None in (
            self.gateway.admin_token_secret_ref,
            self.gateway.session_secret_ref,
            self.gateway.public_url,
            self.stripe.secret_ref,
        ):
            raise ValueError(PRODUCTION_NEEDS)
        # Outside development the services refuse plaintext gRPC unless told it is intended.
        if self.mode == "production" and self.grpc_tls is None:
            raise ValueError(PRODUCTION_NEEDS_TLS)
        return self


PRODUCTION_NEEDS = (
    "spec.mode production (the default) needs spec.gateway.adminTokenSecretRef, "
    "spec.gateway.sessionSecretRef, spec.gateway.publicUrl and spec.stripe.secretRef: "
    "the services refuse their placeholders (spec.mode development accepts them)"
)
PRODUCTION_NEEDS_TLS = (
    "spec.mode production (the default) needs spec.grpcTLS: secretName (a Secret with the "
    "services' mutual TLS certificates) or insecure: true (plaintext gRPC between the "
    "services, on purpose)"
)


class InvalidSpec(ValueError):
    """The spec passed the API server's schema but still cannot be reconciled."""


class Restaurant(BaseModel):
    """One Restaurant: its identity and its parsed spec."""

    model_config = ConfigDict(frozen=True)

    namespace: str
    name: str
    spec: RestaurantSpec

    @classmethod
    def parse(cls, namespace: str, name: str, spec: Mapping[str, Any]) -> Restaurant:
        try:
            return cls(namespace=namespace, name=name, spec=RestaurantSpec.model_validate(spec))
        except ValidationError as exc:
            raise InvalidSpec(str(exc)) from exc

    @property
    def vhost(self) -> str:
        return self.spec.rabbitmq.vhost or naming.default_vhost(self.namespace, self.name)

    @property
    def database(self) -> str:
        return self.spec.mongodb.database or naming.default_database(self.namespace, self.name)

    @property
    def consul_prefix(self) -> str:
        """What the restaurant's services put before their names in Consul."""
        return naming.consul_prefix(self.namespace, self.name)

    @property
    def public_url(self) -> str:
        """Where customers reach the gateway; in development without one, its Service."""
        configured = self.spec.gateway.public_url
        if configured:
            return configured.rstrip("/")
        service = naming.child_name(self.name, naming.GATEWAY)
        return f"http://{service}.{self.namespace}.svc:{naming.GATEWAY_PORT}"

    def replicas(self, service: str) -> int:
        """Desired pods of `service`: the kitchen runs one cook per pod."""
        if service == "kitchen":
            return self.spec.kitchen.workers
        count: int = getattr(self.spec.replicas, service)
        return count
