"""What the kitchen consumes: confirmed orders to cook, and refunds that void their tickets.

A refund reaches one kitchen process through `kitchen.voids` (the ticket is voided once,
or a voided one left for an order no cook has seen, and Order hears which), and every process
through a queue of its own (`cooks_here`), so the cook at the order stops in whichever process
it is. Whichever of the two voids the ticket reports it; the other finds it voided.
"""

from __future__ import annotations

from oms import domain_events as events
from oms.kitchen.handlers import Kitchen
from oms.platform import metrics
from oms.platform.broker import Broker
from oms.platform.consumer import Handler, Handlers


def orders(kitchen: Kitchen) -> Handlers:
    async def confirmed(event: events.OrderConfirmed) -> None:
        await kitchen.cook(event)

    return dict([events.route(events.OrderConfirmed, confirmed)])


def voids(kitchen: Kitchen) -> Handlers:
    return dict([events.route(events.OrderRefunded, kitchen.void)])


def cooks_here(kitchen: Kitchen) -> Handler:
    """For the process's follower: a refunded order one of this process's cooks has."""

    async def refunded(event: events.OrderRefunded) -> None:
        if kitchen.is_cooking(event.order_id):
            await kitchen.void(event)

    return events.route(events.OrderRefunded, refunded)[1]


async def measure_queue(broker: Broker) -> int:
    """`oms_kitchen_queue_depth`: confirmed orders waiting in `kitchen.orders` for a cook.

    Asked of the broker, not counted here: every kitchen process shares the queue, and what
    a cook holds unacknowledged is not waiting. Each process reports the same number.
    """
    depth = await broker.queue_depth(events.KITCHEN_ORDERS.queue)
    metrics.KITCHEN_QUEUE_DEPTH.set(depth)
    return depth
