"""What Order decides when the other services report, or when a deadline comes.

Payment reports money (captured, failed, refunded); the kitchen reports cooking (started,
ready) and the void of a refunded order's ticket; Order's own timers report deadlines. Each
report is applied with a compare-and-set and, when it changes the order, Order publishes its
decision. A report that no longer fits (a capture for a cancelled order, a cook's "ready" for
a refunded one) is answered on purpose: a refund is required, or nothing happens. Every
reaction is idempotent: a redelivered report finds the order already past it.
"""

from __future__ import annotations

from datetime import timedelta

from oms import domain_events as events
from oms.order.domain import STEP, UNPAID, CheckoutClosed, Order, OrderFacts, Status
from oms.order.handlers import OrderHandlers
from oms.order.transitions import announce, priced_lines
from oms.platform import logs, metrics
from oms.platform.errors import NotFound
from oms.platform.events import PermanentError

log = logs.get(__name__)
RETRY_LATER = timedelta(seconds=60)


class OrderReactions:
    def __init__(self, handlers: OrderHandlers) -> None:
        self.handlers = handlers
        self.repository = handlers.repository
        self.transitions = handlers.transitions

    async def _order(self, order_id: str) -> Order:
        order = await self.transitions.read(order_id)
        if order is None:
            raise PermanentError(f"no order {order_id}")
        return order

    async def _facts(self, order_id: str) -> OrderFacts:
        try:
            return await self.transitions.facts(order_id)
        except NotFound as missing:
            raise PermanentError(str(missing)) from None

    # --- payment -----------------------------------------------------------------------

    async def payment_captured(self, captured: events.PaymentCaptured) -> None:
        facts = await self._facts(captured.order_id)
        if (captured.amount_minor, captured.currency) != (facts.total_minor, facts.currency):
            # Payment checks this too; money that does not match the order goes back.
            order = await self._order(facts.id)
            if order.status in UNPAID:
                reason = "the captured amount does not match the order"
                await self._expire(order, reason, close_checkout=False)
                order = await self._order(order.id)
        else:
            # The placement's timer next looks at the checkout's expiry, maybe an hour on:
            # the kitchen-start deadline gets a timer of its own, set before the write (on a
            # redelivery too: a timer that finds its order past the deadline's state is idle).
            await self._check_again(facts.id, self.handlers.deadlines.kitchen_start)
            confirmed = await self.transitions.move(
                facts, Status.PAID, payload=events.OrderConfirmed, lines=priced_lines(facts)
            )
            if confirmed is not None:
                log.info("order.confirmed", order_id=facts.id)
                return
            order = await self._order(facts.id)  # paid already, or another decision won
        if order.status in (Status.CANCELLED, Status.EXPIRED):
            reason = f"paid after the order was {order.status.value}"
            # The status stays; the refund is the decision.
            event = announce(facts, order.status, events.RefundRequired, reason=reason)
            required = await self.repository.require_refund(order.id, reason, [event])
            if required is not None:
                log.warning("order.refund_required", order_id=order.id, status=order.status.value)

    async def payment_failed(self, failed: events.PaymentFailed) -> None:
        order = await self._order(failed.order_id)
        if order.status in UNPAID:
            await self._expire(order, failed.reason, close_checkout=False)

    async def payment_refunded(self, refunded: events.PaymentRefunded) -> None:
        await self.repository.mark_refunded(refunded.order_id)

    # --- kitchen -----------------------------------------------------------------------

    async def ticket_started(self, started: events.TicketStarted) -> None:
        await self._cooked(started.order_id, Status.PREPARING, events.OrderPreparing, started.cook)

    async def ticket_ready(self, ready: events.TicketReady) -> None:
        await self._cooked(ready.order_id, Status.READY, events.OrderReady, ready.cook)

    async def ticket_voided(self, voided: events.TicketVoided) -> None:
        """The kitchen voided a refunded order's ticket: now, and only now, the stock is
        decided, once. The void is where the kitchen ordered itself against a cook's start,
        so `food_used` is what happened to the food, whatever Order saw when it refunded."""
        facts = await self._facts(voided.order_id)
        stock = "write_off" if voided.food_used else "return"
        decision = announce(facts, Status.REFUNDED, events.RefundStock, stock=stock)
        if await self.repository.settle_refund_stock(facts.id, stock, [decision]) is not None:
            log.info("order.refund_stock", order_id=facts.id, stock=stock)
            return
        current = await self._order(facts.id)
        if current.status is not Status.REFUNDED:
            # The kitchen voids only what Order refunded: nothing to decide here.
            log.warning("order.void_report_ignored", order_id=facts.id, status=current.status.value)
        # Else decided already: the report came again (events are published at least once).

    async def _cooked(
        self, order_id: str, to: Status, payload: type[events.OrderEvent], cook: str
    ) -> None:
        facts = await self._facts(order_id)
        moved = await self.transitions.move(
            facts, to, payload=payload, fields={"cook": cook}, cook=cook
        )
        if moved is not None:
            return
        current = await self._order(order_id)
        if current.step >= STEP[to]:
            # Already there or past it, or refunded meanwhile: the kitchen hears of the refund.
            log.info("order.kitchen_report_ignored", order_id=order_id, status=current.status.value)
            return
        # The kitchen cooks only what Order confirmed; anything else is for a person.
        raise PermanentError(f"kitchen reported {to} for order {order_id} in {current.status}")

    # --- deadlines ---------------------------------------------------------------------

    async def deadline_due(self, due: events.DeadlineDue) -> None:
        order = await self.transitions.read(due.order_id)
        if order is None:
            # Stock was held for an order that was never stored (its process died between
            # the two): nobody else will ever release it.
            try:
                await self.handlers.stock.release(due.order_id, "order never stored")
            except Exception:
                # Stock busy with it (an abandoned reserve it will take over) or away: look
                # again later rather than let the timer run out of retries and be parked.
                log.warning("order.orphan_release_deferred", order_id=due.order_id, exc_info=True)
                await self._check_again(due.order_id, RETRY_LATER)
                return
            log.warning("order.orphan_reservation_released", order_id=due.order_id)
            return
        deadline = order.deadline(self.handlers.deadlines)
        if deadline is None:
            return
        now = self.handlers.clock()
        if now < deadline:
            await self._check_again(order.id, deadline - now)
        elif order.status in UNPAID:
            try:
                expired = await self._expire(
                    order, f"not paid by its deadline ({order.status.value})"
                )
            except Exception:
                # Payment or Stripe unreachable: look again later rather than park the timer.
                log.warning("order.expiry_deferred", order_id=order.id, exc_info=True)
                expired = False
            if not expired:
                # Still unpaid, or paid meanwhile: look again, at whatever it has become.
                await self._check_again(order.id, RETRY_LATER)
        else:
            # Counted once per state, however often a timer finds it there.
            if await self.repository.mark_overdue(order.id, order.status):
                metrics.ORDERS_OVERDUE.labels(order.status.value).inc()
                log.warning("order.overdue", order_id=order.id, status=order.status.value)
            # The next look is at the following state's deadline. A ready order's next
            # state, picked up, has none: counted once, it is not looked at again.
            window = self._next_state_window(order)
            if window is not None:
                await self._check_again(order.id, window)

    def _next_state_window(self, order: Order) -> timedelta | None:
        d = self.handlers.deadlines
        return {Status.PAID: d.cooking, Status.PREPARING: d.pickup}.get(order.status)

    async def _check_again(self, order_id: str, after: timedelta) -> None:
        await self.handlers.timers.deadline_in(order_id, after.total_seconds())

    async def _expire(self, order: Order, reason: str, close_checkout: bool = True) -> bool:
        """Expire an unpaid order, after making sure its checkout can no longer be paid;
        False when it was not expired (paid first, or another decision won)."""
        if close_checkout:
            closed = await self.handlers.payment.close_checkout(order.id)
            if closed is CheckoutClosed.ALREADY_PAID:
                return False  # the capture is on its way and decides
        expired = await self.transitions.move(
            order.facts,
            Status.EXPIRED,
            payload=events.OrderExpired,
            fields={"state.reason": reason},
            reason=reason,
        )
        if expired is None:
            return False
        log.info("order.expired", order_id=order.id, reason=reason)
        return True
