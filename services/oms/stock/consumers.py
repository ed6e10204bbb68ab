"""Order events that move stock: paid commits, cancelled and expired release."""

from __future__ import annotations

from oms import domain_events as events
from oms.platform.events import Event, PermanentError
from oms.stock.handlers import StockHandlers


class StockConsumers:
    def __init__(self, handlers: StockHandlers) -> None:
        self.handlers = handlers

    async def handle(self, event: Event) -> None:
        if event.type == events.OrderPaid.ROUTING_KEY:
            await self.handlers.commit(events.parse(events.OrderPaid, event).order_id)
        elif event.type == events.OrderCancelled.ROUTING_KEY:
            order_id = events.parse(events.OrderCancelled, event).order_id
            await self.handlers.release(order_id, "cancelled")
        elif event.type == events.OrderExpired.ROUTING_KEY:
            order_id = events.parse(events.OrderExpired, event).order_id
            await self.handlers.release(order_id, "expired")
        else:
            raise PermanentError(f"stock does not handle {event.type}")
