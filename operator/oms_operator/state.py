"""What the operator keeps for its lifetime: clients made once at start-up, kept in `memo`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import kopf

from oms_operator.kube import Kube
from oms_operator.rabbitmq_vhost import Broker
from oms_operator.settings import OperatorSettings


@dataclass
class Clients:
    kube: Kube
    http: httpx.AsyncClient  # RabbitMQ's management API and Consul's HTTP API
    settings: OperatorSettings = field(default_factory=OperatorSettings)
    # One lock per restaurant for reconciling and one for writing its status, so two
    # handlers never interleave their work on the same restaurant.
    reconcile_locks: defaultdict[tuple[str, str], asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )
    status_locks: defaultdict[tuple[str, str], asyncio.Lock] = field(
        default_factory=lambda: defaultdict(asyncio.Lock)
    )
    # In memory only: the broker login that last worked for each restaurant, so that its
    # vhost can still be removed when its Secret was deleted first (`kubectl delete -f`
    # deletes a file's Secrets and Restaurant together).
    brokers: dict[tuple[str, str], Broker] = field(default_factory=dict)


def namespaced(namespace: str | None) -> str:
    """Restaurants are namespaced; kopf types the argument for cluster-wide kinds too."""
    if not namespace:
        raise kopf.PermanentError("a Restaurant must live in a namespace")
    return namespace


def clients(memo: kopf.Memo) -> Clients:
    kept = getattr(memo, "clients", None)
    if not isinstance(kept, Clients):
        raise kopf.TemporaryError("the operator has not finished starting", delay=5)
    return kept
