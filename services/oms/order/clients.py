"""The Order service's adapters to Menu, Stock, Payment (gRPC through Consul) and its timers.

They speak protobuf so the use cases do not: each implements a port of `oms.order.handlers`
with domain values in and out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import grpc

from oms import domain_events as events
from oms.contracts.v1 import (
    common_pb2,
    menu_pb2,
    menu_pb2_grpc,
    payment_pb2,
    payment_pb2_grpc,
    stock_pb2,
    stock_pb2_grpc,
)
from oms.order.domain import CheckoutClosed, PricedItem, ReservationClosed, Shortage
from oms.order_lines import Line
from oms.platform.errors import Unavailable
from oms.platform.grpc_client import Balancer, Client
from oms.platform.protobuf import enum_values, inverse
from oms.platform.timers import Timers

OUTAGE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


@contextmanager
def outage_is_unavailable(service: str) -> Iterator[None]:
    """A service that is down or too slow reaches Order's callers as UNAVAILABLE (retry
    later), not as an error of Order's own."""
    try:
        yield
    except grpc.aio.AioRpcError as exc:
        if exc.code() in OUTAGE:
            raise Unavailable(f"{service} is unavailable: {exc.details()}") from exc
        raise


# Unknown ids make the cache ask Menu again, but a flood of bad ids cannot make it ask more
# often than this.
MISS_RELOAD_SECONDS = 1.0


class MenuCache:
    """The whole menu in memory: an order is priced without a call to Menu.

    Loaded on first use; an item Menu reports changed (`menu.changed`) is dropped so the
    next order reloads the menu, and the whole cache is reloaded after `ttl_seconds` anyway,
    in case a change event was missed while this process was away from the broker.
    """

    def __init__(self, balancer: Balancer, ttl_seconds: float = 60.0) -> None:
        self.menu = Client(balancer, menu_pb2_grpc.MenuServiceStub)
        self.ttl_seconds = ttl_seconds
        self._items: dict[str, PricedItem] | None = None
        self._loaded_at = 0.0
        self._loading = asyncio.Lock()

    def invalidate(self) -> None:
        self._items = None

    async def items(self, ids: Sequence[str]) -> tuple[dict[str, PricedItem], list[str]]:
        """The known items by id, and the ids Menu does not know.

        An id the cache does not know makes it ask Menu again (at most every
        `MISS_RELOAD_SECONDS`): a just-created item is orderable at once.
        """
        items = await self._all()
        if any(item_id not in items for item_id in ids):
            items = await self._all(reload_after=MISS_RELOAD_SECONDS)
        known = {item_id: items[item_id] for item_id in ids if item_id in items}
        return known, [item_id for item_id in ids if item_id not in items]

    async def _all(self, reload_after: float | None = None) -> dict[str, PricedItem]:
        ttl = self.ttl_seconds if reload_after is None else min(reload_after, self.ttl_seconds)
        items = self._items
        if items is not None and time.monotonic() - self._loaded_at < ttl:
            return items
        async with self._loading:
            if self._items is None or time.monotonic() - self._loaded_at >= ttl:
                request = menu_pb2.ListItemsRequest(offered_only=False)
                with outage_is_unavailable("menu"):
                    response = await self.menu.call(lambda stub: stub.ListItems(request))
                self._items = {
                    i.id: PricedItem(
                        i.id, i.name, i.price.amount_minor, i.price.currency, i.offered
                    )
                    for i in response.items
                }
                self._loaded_at = time.monotonic()
            return self._items


class StockClient(Client["stock_pb2_grpc.StockServiceAsyncStub"]):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__(balancer, stock_pb2_grpc.StockServiceStub)

    async def reserve(self, order_id: str, lines: Sequence[Line]) -> list[Shortage]:
        """Hold every line or none; the shortages (none when held)."""
        request = stock_pb2.ReserveRequest(
            order_id=order_id,
            lines=[common_pb2.OrderLine(item_id=x.item_id, quantity=x.quantity) for x in lines],
        )
        try:
            with outage_is_unavailable("stock"):
                response = await self.call(lambda stub: stub.Reserve(request))
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.FAILED_PRECONDITION:
                raise ReservationClosed(exc.details()) from exc
            raise
        return [Shortage(s.item_id, s.requested, s.available) for s in response.shortages]

    async def release(self, order_id: str, reason: str) -> None:
        request = stock_pb2.ReleaseRequest(order_id=order_id, reason=reason)
        with outage_is_unavailable("stock"):
            await self.call(lambda stub: stub.Release(request))


OUTCOME = inverse(enum_values(CheckoutClosed, payment_pb2.CloseOutcome, "CLOSE_OUTCOME_"))


class PaymentClient(Client["payment_pb2_grpc.PaymentServiceAsyncStub"]):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__(balancer, payment_pb2_grpc.PaymentServiceStub)

    async def close_checkout(self, order_id: str) -> CheckoutClosed:
        """Make sure nobody can pay the order's checkout from now on."""
        request = payment_pb2.CloseCheckoutRequest(order_id=order_id)
        with outage_is_unavailable("payment"):
            response = await self.call(lambda stub: stub.CloseCheckout(request))
        return OUTCOME[response.outcome]


class DeadlineTimers:
    """Order's timers: a `order.deadline_due` event for one order, delivered later."""

    def __init__(self, timers: Timers) -> None:
        self.timers = timers

    async def deadline_in(self, order_id: str, seconds: float) -> None:
        await self.timers.set(events.DeadlineDue(order_id=order_id).to_event(), seconds)
