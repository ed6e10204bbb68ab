"""What the kitchen consumes: confirmed orders to cook, and refunds that void their tickets."""

from __future__ import annotations

from oms import domain_events as events
from oms.kitchen.handlers import Kitchen
from oms.platform.consumer import Handlers


def orders(kitchen: Kitchen) -> Handlers:
    async def confirmed(event: events.OrderConfirmed) -> None:
        await kitchen.cook(event)

    return dict([events.route(events.OrderConfirmed, confirmed)])


def voids(kitchen: Kitchen) -> Handlers:
    return dict([events.route(events.OrderRefunded, kitchen.void)])
