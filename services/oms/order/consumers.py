"""Payment and kitchen events that move an order along its lifecycle."""

from __future__ import annotations

from oms import domain_events as events
from oms.order.domain import IllegalTransition, Status
from oms.order.handlers import OrderHandlers
from oms.platform import logs
from oms.platform.events import Event, PermanentError

log = logs.get(__name__)


class OrderConsumers:
    def __init__(self, handlers: OrderHandlers) -> None:
        self.handlers = handlers

    async def on_payment(self, event: Event) -> None:
        if event.type == events.OrderPaid.ROUTING_KEY:
            order_id = events.parse(events.OrderPaid, event).order_id
            await self._advance(order_id, Status.PAID, final={Status.CANCELLED, Status.EXPIRED})
        elif event.type == events.OrderExpired.ROUTING_KEY:
            order_id = events.parse(events.OrderExpired, event).order_id
            try:
                await self.handlers.advance(order_id, Status.EXPIRED)
            except IllegalTransition as exc:
                # Paid or cancelled first: the expiry of an unused checkout changes nothing.
                log.info("order.expiry_ignored", order_id=order_id, status=exc.current.value)
        else:
            raise PermanentError(f"order does not handle {event.type}")

    async def on_kitchen(self, event: Event) -> None:
        if event.type == events.KitchenOrderPreparing.ROUTING_KEY:
            order_id = events.parse(events.KitchenOrderPreparing, event).order_id
            to = Status.PREPARING
        elif event.type == events.KitchenOrderReady.ROUTING_KEY:
            order_id = events.parse(events.KitchenOrderReady, event).order_id
            to = Status.READY
        else:
            raise PermanentError(f"order does not handle {event.type}")
        try:
            await self.handlers.advance_implied(order_id, to, since=Status.AWAITING_PAYMENT)
        except IllegalTransition as exc:
            # Cooked for an order that is gone (cancelled or expired): for a person to see.
            raise PermanentError(str(exc)) from exc

    async def _advance(self, order_id: str, to: Status, final: set[Status]) -> None:
        try:
            await self.handlers.advance(order_id, to)
        except IllegalTransition as exc:
            if exc.current in final:
                # Paid after it was cancelled or expired: money without an order, for a person.
                raise PermanentError(str(exc)) from exc
            raise  # arrived before the step it follows: retried after a delay
