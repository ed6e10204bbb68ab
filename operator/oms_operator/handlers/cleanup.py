"""The finalizer: a deleted Restaurant leaves no vhost and no Consul entries behind.

Its Deployments, Services and ConfigMap go by garbage collection (owner references). When the
broker's Secret is already gone, the login that last worked is used (kept in memory only).
These handlers give up after a bounded number of attempts, with a warning event naming what
was left, so that an unreachable broker cannot keep a Restaurant from being deleted for ever.
"""

from __future__ import annotations

from typing import Any

import httpx
import kopf

from oms_operator import consul_catalog, naming, rabbitmq_vhost, reconciliation, state
from oms_operator.model import InvalidSpec, Restaurant

ATTEMPTS = 10


def _parse(body: kopf.Body, namespace: str, name: str) -> Restaurant | None:
    try:
        return Restaurant.parse(namespace, name, body.spec)
    except InvalidSpec:
        return None  # it was never reconciled, so there is nothing to remove


def _give_up_or_retry(
    body: kopf.Body, retry: int, reason: str, message: str
) -> kopf.TemporaryError:
    if retry + 1 >= ATTEMPTS:
        kopf.warn(body, reason=reason, message=f"giving up, left behind: {message}")
        raise kopf.PermanentError(message)
    return kopf.TemporaryError(message, delay=reconciliation.backoff(retry))


@kopf.on.delete(naming.GROUP, naming.VERSION, naming.PLURAL, retries=ATTEMPTS)
async def remove_vhost(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    retry: int,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    restaurant = _parse(body, state.namespaced(namespace), name)
    if restaurant is None:
        return
    clients = state.clients(memo)
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
            raise _give_up_or_retry(body, retry, exc.reason, message) from exc
    try:
        removed = await rabbitmq_vhost.remove(clients.http, broker, restaurant.vhost)
    except httpx.HTTPError as exc:
        message = broker.redact(f"vhost {restaurant.vhost}: {exc!r}")
        raise _give_up_or_retry(body, retry, "BrokerUnavailable", message) from exc
    clients.brokers.pop(key, None)
    logger.info("vhost.removed", extra={"vhost": restaurant.vhost, "existed": removed})
    kopf.info(body, reason="VhostRemoved", message=f"RabbitMQ vhost {restaurant.vhost} deleted")


@kopf.on.delete(naming.GROUP, naming.VERSION, naming.PLURAL, retries=ATTEMPTS)
async def deregister_services(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    retry: int,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    restaurant = _parse(body, state.namespaced(namespace), name)
    if restaurant is None:
        return
    node = naming.consul_node(restaurant.namespace, name)
    try:
        await consul_catalog.deregister(
            state.clients(memo).http, restaurant.spec.consul.address, node
        )
    except httpx.HTTPError as exc:
        raise _give_up_or_retry(
            body, retry, "ConsulUnavailable", f"Consul node {node}: {exc!r}"
        ) from exc
    logger.info("consul.deregistered", extra={"node": node})
    kopf.info(body, reason="ServicesDeregistered", message=f"Consul node {node} deregistered")
