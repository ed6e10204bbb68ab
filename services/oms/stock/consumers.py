"""Order's decisions that move stock: confirmed commits, cancelled and expired release, a
refund returns the stock or writes it off."""

from __future__ import annotations

from oms import domain_events as events
from oms.platform.consumer import Handlers
from oms.stock.handlers import StockHandlers


def orders(stock: StockHandlers) -> Handlers:
    async def confirmed(event: events.OrderConfirmed) -> None:
        await stock.commit(event.order_id)

    async def cancelled(event: events.OrderCancelled) -> None:
        await stock.release(event.order_id, "cancelled")

    async def expired(event: events.OrderExpired) -> None:
        await stock.release(event.order_id, "expired")

    async def refunded(event: events.OrderRefunded) -> None:
        await stock.refunded(event.order_id, event.stock)

    return dict(
        [
            events.route(events.OrderConfirmed, confirmed),
            events.route(events.OrderCancelled, cancelled),
            events.route(events.OrderExpired, expired),
            events.route(events.OrderRefunded, refunded),
        ]
    )
