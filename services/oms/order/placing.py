"""Placing an order: priced by Menu, its stock held by Stock, stored with `order.placed`.

All of it, or nothing held: the deadline timer is set before the stock is held, so an order
whose process dies in between still gets its stock back (see `place`).
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from oms import domain_events as events
from oms.limits import MAX_IDEMPOTENCY_KEY
from oms.order.domain import (
    Deadlines,
    InsufficientStock,
    Order,
    OrderItem,
    ReservationClosed,
    Status,
    check_customer_id,
)
from oms.order.ports import Menu, Stock, Timers
from oms.order.repository import OrderRepository
from oms.order.transitions import Transitions, announce, priced_lines
from oms.order_lines import Line, merge_lines
from oms.platform import logs, metrics
from oms.platform.clock import Clock
from oms.platform.errors import FailedPrecondition, InvalidArgument
from oms.platform.outbox_entries import Delayed

log = logs.get(__name__)
TIMER_SECONDS = 2.0  # for setting an order's deadline timer before its stock is held
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b8f2a8e-6f0b-4d67-9a53-0f6d0c1e7a11")


@dataclass
class OrderPlacement:
    repository: OrderRepository
    menu: Menu
    stock: Stock
    timers: Timers
    deadlines: Deadlines
    transitions: Transitions
    clock: Clock

    async def place(self, customer_id: str, lines: Sequence[Line], idempotency_key: str) -> Order:
        """Price from Menu, hold the stock, store the order: all of it, or nothing held.

        The same key for the same customer gives the same order however often it is sent.
        """
        check_customer_id(customer_id)
        if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise InvalidArgument(
                f"idempotency key must be at most {MAX_IDEMPOTENCY_KEY} characters"
            )
        wanted = merge_lines(lines)
        order_id = (
            str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{customer_id}/{idempotency_key}"))
            if idempotency_key
            else str(uuid.uuid4())
        )
        try:
            items, currency = await self._price(wanted)
        except InvalidArgument:
            # A retry of a placed order whose item has since changed: that order stands.
            stored = await self.repository.get(order_id) if idempotency_key else None
            if stored is None:
                raise
            return stored
        now = _stored_precision(self.clock())
        order = Order(
            id=order_id,
            customer_id=customer_id,
            status=Status.PENDING,
            items=items,
            currency=currency,
            created_at=now,
            updated_at=now,
            access_token=secrets.token_urlsafe(24),
            checkout_expires_at=now + self.deadlines.checkout_window,
            history=((Status.PENDING, now),),
        )
        # The timer goes first: if this process dies after the stock is held but before the
        # order is stored, the timer finds no order and gives the stock back. With the broker
        # away, the timer is stored with the order instead and set once the broker is back
        # (the order is still taken; only that crash in between would then hold stock).
        pending = self.deadlines.pending.total_seconds()
        try:
            # Not long: a broker that is reconnecting would otherwise hold the order up.
            async with asyncio.timeout(TIMER_SECONDS):
                await self.timers.deadline_in(order.id, pending)
            later: list[Delayed] = []
        except Exception:
            log.warning("order.timer_deferred", order_id=order.id, exc_info=True)
            later = [Delayed(events.DeadlineDue(order_id=order.id).to_event(), pending)]
        # From the reservation on, finish (store the order, or give the stock back) even if
        # the caller stops waiting: a cancelled call must not leave stock held for nothing.
        return await asyncio.shield(self._reserve_and_store(order, wanted, later))

    async def _reserve_and_store(
        self, order: Order, wanted: Sequence[Line], later: Sequence[Delayed]
    ) -> Order:
        try:
            shortages = await self.stock.reserve(order.id, wanted)
        except ReservationClosed:
            # A repeated key whose order was since cancelled or expired: that order stands.
            stored = await self.repository.get(order.id)
            if stored is None:
                # Its first attempt died before storing it, and its stock went back since.
                raise FailedPrecondition(
                    "this Idempotency-Key belongs to an order that was never completed; "
                    "place it again with a new key"
                ) from None
            return stored
        if shortages:
            raise InsufficientStock(shortages)
        placed = announce(
            order.facts,
            order.status,
            events.OrderPlaced,
            currency=order.currency,
            total_minor=order.total_minor,
            lines=priced_lines(order.facts),
            checkout_expires_at=order.checkout_expires_at,
            access_token=order.access_token,
        )
        try:
            await self.repository.insert(
                order, [placed, *later], deadline=order.deadline(self.deadlines)
            )
        except DuplicateKeyError:
            return await self._stored(order.id)  # a repeated key: the first order stands
        except Exception:
            await self.stock.release(order.id, "order not stored")
            raise
        metrics.ORDER_TRANSITIONS.labels(Status.PENDING.value, "").inc()
        log.info("order.placed", order_id=order.id, total_minor=order.total_minor)
        return self.transitions.remember(order)

    async def _stored(self, order_id: str) -> Order:
        stored = await self.repository.get(order_id)
        if stored is None:
            raise FailedPrecondition(f"order {order_id} is being placed; try again")
        return stored

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
            OrderItem(line.item_id, known[x].name, line.quantity, known[x].price_minor)
            for line in lines
            for x in [line.item_id]
        )
        return items, currencies.pop()


def _stored_precision(moment: datetime) -> datetime:
    """`moment` as MongoDB stores it (milliseconds), so the order a caller gets back at
    placement, its event and every later read of it agree."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
