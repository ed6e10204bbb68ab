"""Order events that open and close checkouts."""

from __future__ import annotations

import stripe

from oms import domain_events as events
from oms.payment.handlers import PaymentHandlers
from oms.platform.events import Event, PermanentError


class PaymentConsumers:
    def __init__(self, handlers: PaymentHandlers) -> None:
        self.handlers = handlers

    async def handle(self, event: Event) -> None:
        try:
            if event.type == events.OrderCreated.ROUTING_KEY:
                await self.handlers.start_checkout(events.parse(events.OrderCreated, event))
            elif event.type == events.OrderCancelled.ROUTING_KEY:
                await self.handlers.cancel(events.parse(events.OrderCancelled, event).order_id)
            else:
                raise PermanentError(f"payment does not handle {event.type}")
        except stripe.InvalidRequestError as exc:
            # Stripe refused the request itself; sending it again cannot change its answer.
            raise PermanentError(f"Stripe refused: {exc.user_message or exc}") from exc
