"""Order use cases: what callers ask of an order (place, read, cancel, staff actions).

Placing itself is `oms.order.placing`.

What the other services report (payment, kitchen, deadlines) is applied in
`oms.order.reactions`; both decide through the same compare-and-set transitions.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from oms import domain_events as events
from oms.limits import MAX_ORDER_QUERY, MAX_PAGE_SIZE, MAX_REASON
from oms.order.domain import (
    ENTERED_FROM,
    CheckoutClosed,
    Deadlines,
    IllegalTransition,
    Order,
    Status,
    check_customer_id,
)
from oms.order.placing import OrderPlacement
from oms.order.ports import Menu, Payment, Stock, Timers
from oms.order.repository import OrderRepository, parse_page_token
from oms.order.transitions import Transitions
from oms.order_lines import Line
from oms.platform import logs
from oms.platform.clock import Clock, utc_now
from oms.platform.errors import FailedPrecondition, InvalidArgument, NotFound

log = logs.get(__name__)


@dataclass
class OrderHandlers:
    repository: OrderRepository
    menu: Menu
    stock: Stock
    payment: Payment
    timers: Timers
    deadlines: Deadlines
    clock: Clock = utc_now
    transitions: Transitions = field(init=False)
    placement: OrderPlacement = field(init=False)

    def __post_init__(self) -> None:
        self.transitions = Transitions(self.repository, self.clock, self.deadlines)
        self.placement = OrderPlacement(
            self.repository,
            self.menu,
            self.stock,
            self.timers,
            self.deadlines,
            self.transitions,
            self.clock,
        )

    async def place(self, customer_id: str, lines: Sequence[Line], idempotency_key: str) -> Order:
        """Price from Menu, hold the stock, store the order: all of it, or nothing held.

        The same key for the same customer gives the same order however often it is sent.
        """
        return await self.placement.place(customer_id, lines, idempotency_key)

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
        _check_reason(reason)
        order = await self.get(order_id, customer_id)
        if _already(order, Status.CANCELLED):
            return order
        if await self.payment.close_checkout(order.id) is CheckoutClosed.ALREADY_PAID:
            raise FailedPrecondition(f"order {order.id} was paid while it was being cancelled")
        cancelled = await self._end(order, Status.CANCELLED, events.OrderCancelled, reason, by=by)
        return await self._landed(order.id, Status.CANCELLED, cancelled)

    async def refund(self, order_id: str, reason: str) -> Order:
        """Staff: give a paid order's money back before it is ready.

        Payment refunds and the kitchen voids the ticket. The stock is decided later, once
        the kitchen reports whether a cook had started it (`OrderReactions.ticket_voided`):
        what Order knows here (paid or preparing) may lag behind a cook who just started.
        """
        _check_reason(reason)
        order = await self.get(order_id)
        if _already(order, Status.REFUNDED):
            return order
        refunded = await self._end(order, Status.REFUNDED, events.OrderRefunded, reason)
        if refunded is not None:
            log.warning("order.refunded", order_id=order.id, was=order.status.value)
        return await self._landed(order.id, Status.REFUNDED, refunded)

    async def pick_up(self, order_id: str) -> Order:
        facts = await self.transitions.facts(order_id)
        moved = await self.transitions.move(facts, Status.PICKED_UP, payload=events.OrderPickedUp)
        return await self._landed(order_id, Status.PICKED_UP, moved)

    async def _end(
        self, order: Order, to: Status, payload: type[events.OrderEvent], reason: str, **more: str
    ) -> Order | None:
        """Move `order` to the terminal `to`, the reason stored on it and told in its event."""
        return await self.transitions.move(
            order.facts, to, fields={"state.reason": reason}, payload=payload, reason=reason, **more
        )

    async def _landed(self, order_id: str, to: Status, moved: Order | None) -> Order:
        """The order a move to `to` left: the one it moved, or, when its compare-and-set
        lost, the order as it stands if another request already took it there."""
        if moved is not None:
            return moved
        current = await self.transitions.current(order_id)
        if current.status is to:
            return current
        raise IllegalTransition(order_id, current.status, to)


def _already(order: Order, to: Status) -> bool:
    """True when the order is `to` already (a repeat); IllegalTransition when it cannot go."""
    if order.status is to:
        return True
    if order.status not in ENTERED_FROM[to]:
        raise IllegalTransition(order.id, order.status, to)
    return False


def _check_reason(reason: str) -> None:
    # The gateway checks it too, but a reason is stored and shown: every caller is held to it.
    if len(reason) > MAX_REASON:
        raise InvalidArgument(f"reason must be at most {MAX_REASON} characters")


def _page(page_size: int, page_token: str) -> tuple[int, tuple[datetime, str] | None]:
    if not 0 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidArgument(f"page size must be 1..{MAX_PAGE_SIZE}")
    try:
        after = parse_page_token(page_token) if page_token else None
    except ValueError as exc:
        raise InvalidArgument("page token is not one this service gave out") from exc
    return page_size or 20, after
