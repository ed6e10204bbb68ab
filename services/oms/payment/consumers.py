"""Order's decisions that Payment acts on: open a checkout, close it, give money back."""

from __future__ import annotations

from oms import domain_events as events
from oms.payment.handlers import PaymentHandlers
from oms.platform.consumer import Handlers


def orders(payment: PaymentHandlers) -> Handlers:
    async def placed(event: events.OrderPlaced) -> None:
        await payment.open_checkout(event)

    async def ended(event: events.OrderCancelled | events.OrderExpired) -> None:
        # Order closed the checkout before deciding; this makes sure, whatever happened since.
        await payment.close_checkout(event.order_id)

    async def refund(event: events.RefundRequired | events.OrderRefunded) -> None:
        await payment.refund(event.order_id)

    return dict(
        [
            events.route(events.OrderPlaced, placed),
            events.route(events.OrderCancelled, ended),
            events.route(events.OrderExpired, ended),
            events.route(events.RefundRequired, refund),
            events.route(events.OrderRefunded, refund),
        ]
    )
