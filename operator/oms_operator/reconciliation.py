"""Bringing one Restaurant to its spec: children, broker, catalog. Every step is idempotent.

The handlers (on change, on resume, on the resync timer) all call `reconcile`; a step that
fails raises `StepFailed` with a reason for the status and events, and the handler turns it
into a `kopf.TemporaryError` so kopf retries with backoff.
"""

from __future__ import annotations

import asyncio

import httpx
import kopf
from aio_pika.exceptions import AMQPError  # connection, access and channel errors
from kubernetes.client.exceptions import ApiException

from oms_operator import broker_address, consul_catalog, kube, manifests, naming, rabbitmq_vhost
from oms_operator.model import Restaurant
from oms_operator.state import Clients


class StepFailed(Exception):
    """A reconciliation step failed; `reason` is a CamelCase word for status and events."""

    def __init__(self, reason: str, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.permanent = permanent


def backoff(retry: int) -> float:
    """Seconds before the next attempt: 5, 10, 20, ... capped at five minutes."""
    return float(min(5 * 2**retry, 300))


def _api_error(exc: ApiException, what: str) -> StepFailed:
    # 400/422: the API server refuses what the spec produces; only a spec change helps.
    permanent = exc.status in (400, 422)
    return StepFailed("ApplyFailed", f"{what}: {exc.status} {exc.reason}", permanent=permanent)


async def apply_children(clients: Clients, owner: kopf.Body, restaurant: Restaurant) -> int:
    """Server-side apply the ConfigMap, NetworkPolicies, Deployments and Services, owned by
    the Restaurant; NetworkPolicies turned off in the spec are deleted."""
    children = manifests.children(restaurant)
    kopf.adopt(children, owner=owner)
    for child in children:
        what = f"{child['kind']} {child['metadata']['name']}"
        try:
            await asyncio.to_thread(kube.apply, clients.kube, child)
        except ApiException as exc:
            raise _api_error(exc, what) from exc
    if not restaurant.spec.network_policy.enabled:
        for service in naming.SERVICES:
            name = naming.child_name(restaurant.name, service)
            try:
                await asyncio.to_thread(
                    kube.delete_network_policy, clients.kube, restaurant.namespace, name
                )
            except ApiException as exc:
                raise _api_error(exc, f"NetworkPolicy {name}") from exc
    return len(children)


def check_broker_addresses(clients: Clients, restaurant: Restaurant) -> None:
    """Refuse (permanently) to send credentials where `broker_address` does not allow."""
    spec = restaurant.spec.rabbitmq
    settings = clients.settings
    for reason, field, url in (
        ("ManagementUrlRefused", "spec.rabbitmq.managementUrl", spec.management_url),
        ("BrokerUrlRefused", "spec.rabbitmq.url", spec.url),
    ):
        try:
            broker_address.check(
                field, url, restaurant.namespace, settings.broker_hosts, settings.cluster_domain
            )
        except broker_address.Refused as exc:
            raise StepFailed(reason, str(exc), permanent=True) from exc


async def broker_for(clients: Clients, restaurant: Restaurant) -> rabbitmq_vhost.Broker:
    """The broker's address and login, once its addresses may receive the login."""
    check_broker_addresses(clients, restaurant)
    spec = restaurant.spec.rabbitmq
    ref = spec.credentials_secret_ref
    try:
        values = await asyncio.to_thread(
            kube.read_secret,
            clients.kube,
            restaurant.namespace,
            ref.name,
            (ref.username_key, ref.password_key),
        )
    except ApiException as exc:
        reason = "CredentialsMissing" if exc.status == 404 else "CredentialsUnavailable"
        raise StepFailed(reason, f"Secret {ref.name}: {exc.status} {exc.reason}") from exc
    except KeyError as exc:
        raise StepFailed("CredentialsMissing", str(exc.args[0])) from exc
    return rabbitmq_vhost.Broker(
        amqp_url=spec.url,
        management_url=spec.management_url,
        username=values[ref.username_key],
        password=values[ref.password_key],
    )


async def ensure_broker(clients: Clients, restaurant: Restaurant) -> int:
    broker = await broker_for(clients, restaurant)
    try:
        queues = await rabbitmq_vhost.ensure(
            clients.http, broker, restaurant.vhost, restaurant.spec.rabbitmq.retry_delays_ms
        )
    except (httpx.HTTPError, OSError, AMQPError) as exc:
        message = broker.redact(f"RabbitMQ vhost {restaurant.vhost}: {exc!r}")
        raise StepFailed("BrokerUnavailable", message) from exc
    clients.brokers[(restaurant.namespace, restaurant.name)] = broker
    return queues


async def register_services(clients: Clients, restaurant: Restaurant) -> int:
    try:
        return await consul_catalog.register(clients.http, restaurant)
    except httpx.HTTPError as exc:
        address = restaurant.spec.consul.address
        raise StepFailed("ConsulUnavailable", f"Consul at {address}: {exc!r}") from exc


async def reconcile(clients: Clients, owner: kopf.Body, restaurant: Restaurant) -> str:
    """Every step, in order; returns a one-line summary for the event."""
    async with clients.reconcile_locks[(restaurant.namespace, restaurant.name)]:
        children = await apply_children(clients, owner, restaurant)
        queues = await ensure_broker(clients, restaurant)
        services = await register_services(clients, restaurant)
    return (
        f"applied {children} objects, {queues} queues in vhost {restaurant.vhost}, "
        f"{services} Consul entries; kitchen workers {restaurant.spec.kitchen.workers}"
    )
