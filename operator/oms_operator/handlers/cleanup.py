"""The finalizer: a deleted Restaurant leaves no vhost and no Consul entries behind.

Its Deployments, Services and ConfigMap go by garbage collection (owner references). When the
broker's Secret is already gone, the login that last worked is used (kept in memory only).
These handlers give up after a bounded number of attempts, with a warning event naming what
was left, so that an unreachable broker cannot keep a Restaurant from being deleted for ever.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

import httpx
import kopf

from oms_operator import consul_catalog, naming, rabbitmq_vhost, reconciliation
from oms_operator.handlers.call import Call, restaurant_handler
from oms_operator.model import InvalidSpec, Restaurant

ATTEMPTS = 10


def _cleanup(step: Callable[[Call, Restaurant], Awaitable[None]]) -> object:
    """A step of the finalizer, tried at most `ATTEMPTS` times (registered with kopf)."""

    @functools.wraps(step)
    async def unless_never_reconciled(call: Call) -> None:
        try:
            restaurant = Restaurant.parse(call.namespace, call.name, call.body.spec)
        except InvalidSpec:
            return  # it was never reconciled, so there is nothing to remove
        await step(call, restaurant)

    on_delete = kopf.on.delete(naming.GROUP, naming.VERSION, naming.PLURAL, retries=ATTEMPTS)
    return on_delete(restaurant_handler(unless_never_reconciled))


def _give_up_or_retry(call: Call, reason: str, message: str) -> kopf.TemporaryError:
    if call.retry + 1 >= ATTEMPTS:
        kopf.warn(call.body, reason=reason, message=f"giving up, left behind: {message}")
        raise kopf.PermanentError(message)
    return kopf.TemporaryError(message, delay=reconciliation.backoff(call.retry))


@_cleanup
async def remove_vhost(call: Call, restaurant: Restaurant) -> None:
    body, clients = call.body, call.clients
    key = (restaurant.namespace, restaurant.name)
    try:
        broker = await reconciliation.broker_for(clients, restaurant)
    except reconciliation.StepFailed as exc:
        remembered = clients.brokers.get(key)
        if remembered is not None:
            broker = remembered
        elif exc.permanent or exc.reason == "CredentialsMissing":
            # No Secret, or an address refused, and no login remembered (the operator
            # restarted, or it never reached this broker): retrying cannot help.
            message = f"vhost {restaurant.vhost} left on the broker: {exc.message}"
            kopf.warn(body, reason=exc.reason, message=message)
            raise kopf.PermanentError(message) from exc
        else:
            message = f"vhost {restaurant.vhost}: {exc.message}"
            raise _give_up_or_retry(call, exc.reason, message) from exc
    try:
        removed = await rabbitmq_vhost.remove(clients.http, broker, restaurant.vhost)
    except httpx.HTTPError as exc:
        message = broker.redact(f"vhost {restaurant.vhost}: {exc!r}")
        raise _give_up_or_retry(call, "BrokerUnavailable", message) from exc
    clients.brokers.pop(key, None)
    call.logger.info("vhost.removed", extra={"vhost": restaurant.vhost, "existed": removed})
    kopf.info(body, reason="VhostRemoved", message=f"RabbitMQ vhost {restaurant.vhost} deleted")


@_cleanup
async def deregister_services(call: Call, restaurant: Restaurant) -> None:
    node = naming.consul_node(restaurant.namespace, call.name)
    try:
        await consul_catalog.deregister(call.clients.http, restaurant.spec.consul.address, node)
    except httpx.HTTPError as exc:
        raise _give_up_or_retry(call, "ConsulUnavailable", f"Consul node {node}: {exc!r}") from exc
    call.logger.info("consul.deregistered", extra={"node": node})
    kopf.info(call.body, reason="ServicesDeregistered", message=f"Consul node {node} deregistered")
