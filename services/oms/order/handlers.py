"""Order use cases: create, read, cancel, attach payment, and follow payment and kitchen."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from oms import domain_events as events
from oms.contracts.v1 import stock_pb2
from oms.order.clients import MenuClient, StockClient
from oms.order.domain import (
    ENTERED_FROM,
    MAIN_LINE,
    PAST,
    IllegalTransition,
    InsufficientStock,
    Order,
    OrderItem,
    Status,
    check_customer_id,
)
from oms.order.repository import MongoOrderRepository, parse_page_token
from oms.order_lines import Line, merge_lines
from oms.platform import logs
from oms.platform.errors import InvalidArgument, NotFound
from oms.platform.outbox import OutboxRelay

log = logs.get(__name__)
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b8f2a8e-6f0b-4d67-9a53-0f6d0c1e7a11")


class OrderHandlers:
    def __init__(
        self,
        repository: MongoOrderRepository,
        menu: MenuClient,
        stock: StockClient,
        relay: OutboxRelay,
    ) -> None:
        self.repository = repository
        self.menu = menu
        self.stock = stock
        self.relay = relay

    async def create(self, customer_id: str, lines: Sequence[Line], idempotency_key: str) -> Order:
        check_customer_id(customer_id)
        if len(idempotency_key) > 128:
            raise InvalidArgument("idempotency key must be at most 128 characters")
        wanted = merge_lines(lines)
        order_id = (
            str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{customer_id}/{idempotency_key}"))
            if idempotency_key
            else str(uuid.uuid4())
        )
        if idempotency_key and (existing := await self.repository.get(order_id)):
            return existing

        items, currency = await self._price(wanted)
        # From the first reservation on, finish (store the order, or give the stock back) even
        # if the caller stops waiting: a cancelled call must not leave stock held for nothing.
        return await asyncio.shield(
            self._reserve_and_store(order_id, customer_id, wanted, items, currency)
        )

    async def _reserve_and_store(
        self,
        order_id: str,
        customer_id: str,
        wanted: Sequence[Line],
        items: tuple[OrderItem, ...],
        currency: str,
    ) -> Order:
        reservation = await self.stock.reserve(order_id, wanted)
        if not reservation.reserved:
            short = ", ".join(
                f"{s.item_id} ({s.available} left, {s.requested} asked)"
                for s in reservation.shortages
            )
            details = stock_pb2.CheckStockResponse(shortages=reservation.shortages)
            raise InsufficientStock(f"not enough stock: {short}", details.SerializeToString())

        now = datetime.now(UTC)
        order = Order(order_id, customer_id, Status.PENDING, items, currency, now, now)
        created = events.OrderCreated(
            order_id=order.id,
            customer_id=customer_id,
            currency=order.currency,
            total_minor=order.total_minor,
            lines=[
                events.Line(
                    item_id=i.item_id,
                    name=i.name,
                    quantity=i.quantity,
                    unit_price_minor=i.unit_price_minor,
                )
                for i in items
            ],
        )
        try:
            await self.repository.insert(order, [created.to_event()])
        except DuplicateKeyError:
            stored = await self.repository.get(order_id)  # a concurrent retry won the race
            if stored is None:
                raise
            return stored
        except Exception:
            await self.stock.release(order_id, "order not stored")
            raise
        self.relay.wake(order.id)
        log.info("order.created", order_id=order.id, total_minor=order.total_minor)
        return order

    async def _price(self, lines: Sequence[Line]) -> tuple[tuple[OrderItem, ...], str]:
        """Names and prices from Menu, never from the client."""
        known, unknown = await self.menu.items([line.item_id for line in lines])
        if unknown:
            raise InvalidArgument(f"unknown items: {', '.join(sorted(unknown))}")
        off = sorted(item_id for item_id, item in known.items() if not item.offered)
        if off:
            raise InvalidArgument(f"not on the menu right now: {', '.join(off)}")
        currencies = {item.currency for item in known.values()}
        if len(currencies) != 1:
            raise InvalidArgument("all items of an order must be priced in one currency")
        items = tuple(
            OrderItem(
                line.item_id,
                known[line.item_id].name,
                line.quantity,
                known[line.item_id].price_minor,
            )
            for line in lines
        )
        return items, currencies.pop()

    async def get(self, customer_id: str, order_id: str) -> Order:
        check_customer_id(customer_id)
        order = await self.repository.get(order_id)
        if order is None or order.customer_id != customer_id:
            raise NotFound(f"customer {customer_id} has no order {order_id}")
        return order

    async def list_orders(
        self, customer_id: str, page_size: int, page_token: str
    ) -> tuple[list[Order], str]:
        check_customer_id(customer_id)
        if not 0 <= page_size <= 100:
            raise InvalidArgument("page size must be 1..100")
        try:
            after = parse_page_token(page_token) if page_token else None
        except ValueError as exc:
            raise InvalidArgument("page token is not one this service gave out") from exc
        return await self.repository.list_for_customer(customer_id, page_size or 20, after)

    async def cancel(self, customer_id: str, order_id: str) -> Order:
        order = await self.get(customer_id, order_id)
        cancelled = await self.repository.transition(
            order.id,
            Status.CANCELLED,
            ENTERED_FROM[Status.CANCELLED],
            events=[events.OrderCancelled(order_id=order.id).to_event()],
        )
        if cancelled is None:
            current = await self.get(customer_id, order_id)
            if current.status is Status.CANCELLED:
                return current
            raise IllegalTransition(order.id, current.status, Status.CANCELLED)
        self.relay.wake(order.id)
        # Give the stock back now; the order.cancelled event does it too if this call fails.
        try:
            await self.stock.release(order.id, "cancelled")
        except Exception:
            log.warning("order.release_deferred", order_id=order.id, exc_info=True)
        return cancelled

    async def attach_payment(
        self, order_id: str, session_id: str, link: str, expires_at: datetime | None
    ) -> Order:
        if not (order_id and session_id and link):
            raise InvalidArgument("order_id, checkout_session_id and payment_link are required")
        fields = {
            "payment_link": link,
            "checkout_session_id": session_id,
            "payment_expires_at": expires_at,
        }
        order = await self.repository.transition(
            order_id, Status.AWAITING_PAYMENT, ENTERED_FROM[Status.AWAITING_PAYMENT], fields=fields
        )
        if order is not None:
            return order
        current = await self.repository.get(order_id)
        if current is None:
            raise NotFound(f"no order {order_id}")
        if (
            current.status is Status.AWAITING_PAYMENT
            or current.status in PAST[Status.AWAITING_PAYMENT]
        ):
            return current  # a repeated call: the link is already recorded
        raise IllegalTransition(order_id, current.status, Status.AWAITING_PAYMENT)

    async def advance(self, order_id: str, to: Status) -> Order | None:
        """Apply an event's transition; a repeat is a no-op, an early one raises to retry.

        Returns None when the order is already at or past `to`.
        """
        order = await self.repository.transition(order_id, to, ENTERED_FROM[to])
        if order is not None:
            log.info("order.advanced", order_id=order_id, status=to.value)
            return order
        current = await self.repository.get(order_id)
        if current is None:
            raise NotFound(f"no order {order_id}")
        if current.status is to or current.status in PAST[to]:
            return None
        raise IllegalTransition(order_id, current.status, to)

    async def advance_implied(self, order_id: str, to: Status, since: Status) -> Order | None:
        """Apply `to`, first taking the main-line steps it implies from `since` on.

        The kitchen cooks only paid orders, so its events also say the order was paid, even
        when they overtake the payment's own event: each step is still taken, in order,
        rather than the event waiting for a retry.
        """
        current = await self.repository.get(order_id)
        if current is None:
            raise NotFound(f"no order {order_id}")
        position = MAIN_LINE.index
        if current.status in MAIN_LINE and position(since) <= position(current.status) < position(
            to
        ):
            advanced: Order | None = None
            for step in MAIN_LINE[position(current.status) + 1 : position(to) + 1]:
                advanced = await self.advance(order_id, step)
            return advanced
        return await self.advance(order_id, to)
