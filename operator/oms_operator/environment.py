"""The environment variables of each service's container: its Settings, from the spec.

The services read these names through pydantic-settings (`oms.platform.settings` and each
service's own section); tests/operator/test_service_settings.py builds every service's
Settings from exactly this list. Credentials stay in Secrets (`secretKeyRef`); the broker's
are joined into its URL by Kubernetes' `$(VAR)` expansion.
"""

from __future__ import annotations

import json
from typing import Any

from oms_operator import naming
from oms_operator.model import Restaurant

EnvVar = dict[str, Any]
AMQP_USERNAME = "AMQP_USERNAME"
AMQP_PASSWORD = "AMQP_PASSWORD"  # noqa: S105 (a variable name, not a password)
ANY_ADDRESS = "0.0.0.0"  # noqa: S104 (a pod listens on its own IP)


def value(name: str, text: str) -> EnvVar:
    return {"name": name, "value": text}


def secret(name: str, secret_name: str, key: str) -> EnvVar:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def pod_ip(name: str) -> EnvVar:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}


def _platform(restaurant: Restaurant, service: str) -> list[EnvVar]:
    spec = restaurant.spec
    rabbitmq = spec.rabbitmq
    credentials = rabbitmq.credentials_secret_ref
    amqp_url = (
        f"{rabbitmq.scheme}://$({AMQP_USERNAME}):$({AMQP_PASSWORD})"
        f"@{rabbitmq.host_port}/{restaurant.vhost}"
    )
    env = [
        value("OMS_MODE", spec.mode),
        secret(AMQP_USERNAME, credentials.name, credentials.username_key),
        secret(AMQP_PASSWORD, credentials.name, credentials.password_key),
        value("RABBITMQ_URL", amqp_url),
        value("RABBITMQ_RETRY_DELAYS_MS", json.dumps(list(rabbitmq.retry_delays_ms))),
    ]
    if service in naming.DATABASE_SERVICES:
        # Each service then uses `<MONGODB_DATABASE>_<service>`.
        env += [
            value("MONGODB_URL", spec.mongodb.url),
            value("MONGODB_DATABASE", restaurant.database),
        ]
    tracing = spec.tracing
    return [
        *env,
        value("CONSUL_HTTP_ADDR", spec.consul.address),
        # Restaurants may share a Consul: each one's services find only each other.
        value("CONSUL_SERVICE_PREFIX", restaurant.consul_prefix),
        value("OTEL_EXPORTER_OTLP_ENDPOINT", tracing.otlp_endpoint),
        value("OTEL_SDK_DISABLED", "false" if tracing.enabled else "true"),
        value("OTEL_TRACES_SAMPLER", tracing.sampler),
        value("OTEL_TRACES_SAMPLER_ARG", str(tracing.sampler_arg)),
        value("LOG_LEVEL", spec.logging.level),
        value("LOG_FORMAT", spec.logging.format),
        # Probes, Prometheus and Consul's checks reach the ops server on the pod's IP.
        value("OPS_HOST", ANY_ADDRESS),
        value("OPS_PORT", str(naming.OPS_PORT)),
    ]


def _tls(restaurant: Restaurant) -> list[EnvVar]:
    tls = restaurant.spec.grpc_tls
    if tls is None:
        # Development only (the spec refuses production without spec.grpcTLS): development
        # allows plaintext gRPC by itself.
        return []
    if tls.insecure:
        # Plaintext on purpose, as the spec says; the services refuse it otherwise.
        return [value("GRPC_TLS_INSECURE", "true")]
    files = naming.TLS_FILES
    return [
        value("GRPC_TLS_CERT_FILE", f"{naming.TLS_DIR}/{files['cert']}"),
        value("GRPC_TLS_KEY_FILE", f"{naming.TLS_DIR}/{files['key']}"),
        value("GRPC_TLS_CA_FILE", f"{naming.TLS_DIR}/{files['ca']}"),
    ]


def _grpc_server() -> list[EnvVar]:
    return [
        value("GRPC_HOST", ANY_ADDRESS),
        value("GRPC_PORT", str(naming.GRPC_PORT)),
        # Consul tells the other services this pod's own address.
        pod_ip("GRPC_ADVERTISE_HOST"),
    ]


def _kitchen(restaurant: Restaurant) -> list[EnvVar]:
    kitchen = restaurant.spec.kitchen
    # One cook per pod: spec.kitchen.workers is the Deployment's replicas (see README).
    return [
        value("KITCHEN_WORKERS", "1"),
        value("KITCHEN_SECONDS_PER_ITEM", str(kitchen.seconds_per_item)),
        value("KITCHEN_LONGEST_COOK_SECONDS", str(kitchen.longest_cook_seconds)),
        value("KITCHEN_DRAIN_SECONDS", str(kitchen.drain_seconds)),
    ]


def _payment(restaurant: Restaurant) -> list[EnvVar]:
    spec = restaurant.spec
    public = restaurant.public_url
    env = [
        value("STRIPE_API_BASE", spec.stripe.api_base),
        # Where Stripe sends the customer back: the order's page on the public gateway.
        value("STRIPE_SUCCESS_URL", f"{public}/orders/{{order_id}}?t={{access_token}}&paid=1"),
        value("STRIPE_CANCEL_URL", f"{public}/orders/{{order_id}}?t={{access_token}}"),
        value("PAYMENT_TEST_PAGE_URL", f"{public}/test-payments/{{order_id}}"),
    ]
    ref = spec.stripe.secret_ref
    if ref is not None:
        env += [
            secret("STRIPE_API_KEY", ref.name, ref.api_key_key),
            secret("STRIPE_WEBHOOK_SECRET", ref.name, ref.webhook_secret_key),
        ]
    return env


def _gateway(restaurant: Restaurant) -> list[EnvVar]:
    gateway = restaurant.spec.gateway
    limits = gateway.rate_limits
    env = [
        value("GATEWAY_HOST", ANY_ADDRESS),
        value("GATEWAY_PORT", str(naming.GATEWAY_PORT)),
        pod_ip("GATEWAY_ADVERTISE_HOST"),
        value("GATEWAY_SECURE_COOKIES", str(restaurant.public_url.startswith("https://")).lower()),
        value("GATEWAY_ORDER_RATE_PER_MINUTE", str(limits.orders_per_minute)),
        value("GATEWAY_ORDER_BURST", str(limits.order_burst)),
        value("GATEWAY_SESSION_RATE_PER_MINUTE", str(limits.sessions_per_minute)),
        value("GATEWAY_SESSION_BURST", str(limits.session_burst)),
        value("GATEWAY_WEBHOOK_RATE_PER_SECOND", str(limits.webhooks_per_second)),
        value("GATEWAY_WEBHOOK_BURST", str(limits.webhook_burst)),
        value("GATEWAY_TRUSTED_PROXIES", ",".join(gateway.trusted_proxies)),
    ]
    if gateway.admin_token_secret_ref is not None:
        token = gateway.admin_token_secret_ref
        env.append(secret("GATEWAY_ADMIN_TOKEN", token.name, token.key))
    if gateway.session_secret_ref is not None:
        session = gateway.session_secret_ref
        env.append(secret("GATEWAY_SESSION_SECRET", session.name, session.key))
    # No Stripe key: test payments exist only in development, and Payment signs them only
    # with stripe-mock's key.
    return env


def _service(restaurant: Restaurant, service: str) -> list[EnvVar]:
    seed_path = f"{naming.SEED_DIR}/{naming.SEED_FILE}"
    if service == "menu":
        return [value("MENU_SEED_FILE", seed_path)]
    if service == "stock":
        return [value("STOCK_SEED_FILE", seed_path)]
    if service == "kitchen":
        return _kitchen(restaurant)
    if service == "payment":
        return _payment(restaurant)
    if service == naming.GATEWAY:
        return _gateway(restaurant)
    return []


def environment(restaurant: Restaurant, service: str) -> list[EnvVar]:
    """Every variable of `service`'s container, in an order `$(VAR)` expansion can follow."""
    grpc = _grpc_server() if service in naming.GRPC_SERVICES else []
    return [
        *_platform(restaurant, service),
        *_tls(restaurant),
        *grpc,
        *_service(restaurant, service),
    ]
