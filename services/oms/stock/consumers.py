"""Order's decisions that move stock: confirmed commits, cancelled and expired release, and a
refund's stock (decided once the kitchen voided the ticket) is returned or written off.

A decision the reservation refuses (FAILED_PRECONDITION: a confirmation of a released
reservation, an order Stock never reserved for) can never succeed later, since a
reservation never moves back: it is parked at once, with the reason, for a person to read.
What may succeed later (UNAVAILABLE: an operation in progress) is retried as usual.
"""

from __future__ import annotations

from oms import domain_events as events
from oms.platform.consumer import Handler, Handlers
from oms.platform.errors import FailedPrecondition
from oms.platform.events import Event, PermanentError
from oms.stock.handlers import StockHandlers


def orders(stock: StockHandlers) -> Handlers:
    async def confirmed(event: events.OrderConfirmed) -> None:
        await stock.commit(event.order_id)

    async def cancelled(event: events.OrderCancelled) -> None:
        await stock.release(event.order_id, "cancelled")

    async def expired(event: events.OrderExpired) -> None:
        await stock.release(event.order_id, "expired")

    async def refund_stock(event: events.RefundStock) -> None:
        await stock.refunded(event.order_id, event.stock)

    routes = [
        events.route(events.OrderConfirmed, confirmed),
        events.route(events.OrderCancelled, cancelled),
        events.route(events.OrderExpired, expired),
        events.route(events.RefundStock, refund_stock),
    ]
    return {key: _refusals_parked(handler) for key, handler in routes}


def _refusals_parked(handler: Handler) -> Handler:
    async def handle(event: Event) -> None:
        try:
            await handler(event)
        except FailedPrecondition as exc:
            raise PermanentError(str(exc)) from exc

    return handle
