"""Order use cases: what callers ask of an order (place, read, cancel, staff actions).

What the other services report (payment, kitchen, deadlines) is applied in
`oms.order.reactions`; both decide through the same compare-and-set transitions.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Protocol

from pymongo.errors import DuplicateKeyError

from oms import domain_events as events
from oms.limits import MAX_IDEMPOTENCY_KEY, MAX_ORDER_QUERY
from oms.order.domain import (
    ENTERED_FROM,
    UNPAID,
    CheckoutClosed,
    Deadlines,
    IllegalTransition,
    InsufficientStock,
    Order,
    OrderItem,
    PricedItem,
    ReservationClosed,
    Shortage,
    Status,
    check_customer_id,
)
from oms.order.repository import OrderRepository, parse_page_token
from oms.order.transitions import Transitions, announce, priced_lines
from oms.order_lines import Line, merge_lines
from oms.platform import logs, metrics
from oms.platform.errors import FailedPrecondition, InvalidArgument, NotFound
from oms.platform.outbox import Delayed

log = logs.get(__name__)
TIMER_SECONDS = 2.0  # for setting an order's deadline timer before its stock is held
IDEMPOTENCY_NAMESPACE = uuid.UUID("5b8f2a8e-6f0b-4d67-9a53-0f6d0c1e7a11")
Clock = Callable[[], datetime]


class Menu(Protocol):
    async def items(self, ids: Sequence[str]) -> tuple[dict[str, PricedItem], list[str]]: ...


class Stock(Protocol):
    async def reserve(self, order_id: str, lines: Sequence[Line]) -> list[Shortage]: ...
    async def release(self, order_id: str, reason: str) -> None: ...


class Payment(Protocol):
    async def close_checkout(self, order_id: str) -> CheckoutClosed: ...


class Timers(Protocol):
    async def deadline_in(self, order_id: str, seconds: float) -> None: ...


def utc_now() -> datetime:
    return datetime.now(UTC)


class OrderHandlers:
    def __init__(
        self,
        repository: OrderRepository,
        menu: Menu,
        stock: Stock,
        payment: Payment,
        timers: Timers,
        deadlines: Deadlines,
        clock: Clock = utc_now,
    ) -> None:
        self.repository = repository
        self.menu = menu
        self.stock = stock
        self.payment = payment
        self.timers = timers
        self.deadlines = deadlines
        self.clock = clock
        self.transitions = Transitions(repository, clock)

    # --- placing -----------------------------------------------------------------------

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
            await self.repository.insert(order, [placed, *later])
        except DuplicateKeyError:
            return await self._stored(order.id)  # a repeated key: the first order stands
        except Exception:
            await self.stock.release(order.id, "order not stored")
            raise
        metrics.ORDER_TRANSITIONS.labels(Status.PENDING.value).inc()
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

    # --- reading -----------------------------------------------------------------------

    async def get(self, order_id: str, customer_id: str = "", access_token: str = "") -> Order:
        """The order; with a customer or an access token, only if it is theirs."""
        order = await self.transitions.read(order_id) if order_id else None
        if order is None:
            raise NotFound(f"no order {order_id}")
        if customer_id and order.customer_id != customer_id:
            raise NotFound(f"no order {order_id}")
        # As bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
        if access_token and not hmac.compare_digest(
            access_token.encode(), order.access_token.encode()
        ):
            raise NotFound(f"no order {order_id}")
        return order

    async def list_for_customer(
        self, customer_id: str, page_size: int, page_token: str
    ) -> tuple[list[Order], str]:
        check_customer_id(customer_id)
        size, after = _page(page_size, page_token)
        return await self.repository.list_for_customer(customer_id, size, after)

    async def list_all(
        self, statuses: Collection[Status], query: str, page_size: int, page_token: str
    ) -> tuple[list[Order], str]:
        if len(query) > MAX_ORDER_QUERY:
            raise InvalidArgument(f"query must be at most {MAX_ORDER_QUERY} characters")
        size, after = _page(page_size, page_token)
        return await self.repository.list_all(statuses, query, size, after)

    # --- changing ----------------------------------------------------------------------

    async def attach_checkout(self, order_id: str, session_id: str, link: str) -> Order:
        """Payment opened the checkout: the customer can pay now."""
        if not (order_id and session_id and link):
            raise InvalidArgument("order_id, checkout_session_id and payment_link are required")
        facts = await self.transitions.facts(order_id)
        moved = await self.transitions.move(
            facts,
            Status.AWAITING_PAYMENT,
            fields={"checkout": {"session_id": session_id, "link": link}},
            payload=events.OrderAwaitingPayment,
            payment_link=link,
            checkout_session_id=session_id,
        )
        if moved is not None:
            return moved
        order = await self.transitions.current(order_id)
        if order.status in (Status.CANCELLED, Status.EXPIRED):
            raise IllegalTransition(order_id, order.status, Status.AWAITING_PAYMENT)
        return order  # a repeat, or the payment overtook its own link

    async def cancel(
        self, order_id: str, customer_id: str = "", reason: str = "", by: str = "customer"
    ) -> Order:
        """Cancel an unpaid order: its checkout is closed at Stripe first, then the order."""
        order = await self.get(order_id, customer_id)
        if order.status is Status.CANCELLED:
            return order
        if order.status not in UNPAID:
            raise IllegalTransition(order.id, order.status, Status.CANCELLED)
        if await self.payment.close_checkout(order.id) is CheckoutClosed.ALREADY_PAID:
            raise FailedPrecondition(f"order {order.id} was paid while it was being cancelled")
        cancelled = await self.transitions.move(
            order.facts,
            Status.CANCELLED,
            fields={"state.reason": reason},
            payload=events.OrderCancelled,
            by=by,
            reason=reason,
        )
        if cancelled is not None:
            return cancelled
        current = await self.get(order.id)
        if current.status is Status.CANCELLED:
            return current
        raise IllegalTransition(order.id, current.status, Status.CANCELLED)

    async def refund(self, order_id: str, reason: str) -> Order:
        """Staff: give a paid order's money back before it is ready.

        Stock comes back when no cook had started it, and is written off when one had.
        """
        for _ in range(3):  # the order may move from paid to preparing meanwhile
            order = await self.get(order_id)
            if order.status is Status.REFUNDED:
                return order
            if order.status not in ENTERED_FROM[Status.REFUNDED]:
                raise IllegalTransition(order.id, order.status, Status.REFUNDED)
            stock = "return" if order.status is Status.PAID else "write_off"
            refunded = await self.transitions.move(
                order.facts,
                Status.REFUNDED,
                fields={"state.reason": reason},
                payload=events.OrderRefunded,
                from_states={order.status},
                stock=stock,
                reason=reason,
            )
            if refunded is not None:
                log.warning("order.refunded", order_id=order.id, stock=stock)
                return refunded
        raise FailedPrecondition(f"order {order_id} kept changing; try again")

    async def pick_up(self, order_id: str) -> Order:
        facts = await self.transitions.facts(order_id)
        moved = await self.transitions.move(facts, Status.PICKED_UP, payload=events.OrderPickedUp)
        if moved is not None:
            return moved
        current = await self.transitions.current(order_id)
        if current.status is Status.PICKED_UP:
            return current
        raise IllegalTransition(order_id, current.status, Status.PICKED_UP)


def _stored_precision(moment: datetime) -> datetime:
    """`moment` as MongoDB stores it (milliseconds), so the order a caller gets back at
    placement, its event and every later read of it agree."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def _page(page_size: int, page_token: str) -> tuple[int, tuple[datetime, str] | None]:
    if not 0 <= page_size <= 100:
        raise InvalidArgument("page size must be 1..100")
    try:
        after = parse_page_token(page_token) if page_token else None
    except ValueError as exc:
        raise InvalidArgument("page token is not one this service gave out") from exc
    return page_size or 20, after
