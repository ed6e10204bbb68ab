"""How Order changes an order: one compare-and-set that also stores the event announcing it.

A transition is decided from what the caller knows (the order's facts, which never change)
and the states it may be entered from, so it is a single write: no read before it. Only when
the compare-and-set finds the order elsewhere does the caller read it, to say why. Facts
come from a bounded cache that placement and every read fill; a miss (an order placed by
another replica, or one evicted) costs one read.
"""

from __future__ import annotations

from collections import OrderedDict

from oms import domain_events as events
from oms.order.domain import ENTERED_FROM, STEP, TERMINAL, Deadlines, Order, OrderFacts, Status
from oms.order.repository import OrderRepository
from oms.platform import metrics
from oms.platform.clock import Clock
from oms.platform.errors import NotFound
from oms.platform.events import Event

FACTS_KEPT = 20_000  # orders whose facts stay cached (a few hundred bytes each)


def announce(
    facts: OrderFacts, status: Status, payload_type: type[events.OrderEvent], **fields: object
) -> Event:
    """The event telling everyone that the order is now in `status`."""
    payload = payload_type.model_validate(
        {
            "order_id": facts.id,
            "customer_id": facts.customer_id,
            "status": status.value,
            "step": STEP[status],
            **fields,
        }
    )
    return payload.to_event()


def priced_lines(facts: OrderFacts) -> list[dict[str, object]]:
    return [
        {
            "item_id": i.item_id,
            "name": i.name,
            "quantity": i.quantity,
            "unit_price_minor": i.unit_price_minor,
        }
        for i in facts.items
    ]


class Transitions:
    def __init__(
        self,
        repository: OrderRepository,
        clock: Clock,
        deadlines: Deadlines,
        kept: int = FACTS_KEPT,
    ) -> None:
        self.repository = repository
        self.clock = clock
        self.deadlines = deadlines
        self.kept = kept
        self._facts: OrderedDict[str, OrderFacts] = OrderedDict()

    def remember(self, order: Order) -> Order:
        self._facts[order.id] = order.facts
        self._facts.move_to_end(order.id)
        if len(self._facts) > self.kept:
            self._facts.popitem(last=False)
        return order

    async def read(self, order_id: str) -> Order | None:
        order = await self.repository.get(order_id)
        return self.remember(order) if order is not None else None

    async def current(self, order_id: str) -> Order:
        order = await self.read(order_id)
        if order is None:
            raise NotFound(f"no order {order_id}")
        return order

    async def facts(self, order_id: str) -> OrderFacts:
        """The order's facts, cached; NotFound if there is no such order."""
        known = self._facts.get(order_id)
        if known is not None:
            self._facts.move_to_end(order_id)
            return known
        return (await self.current(order_id)).facts

    async def move(
        self,
        facts: OrderFacts,
        to: Status,
        *,
        payload: type[events.OrderEvent],
        fields: dict[str, object] | None = None,
        **event_fields: object,
    ) -> Order | None:
        """The transition and its event in one compare-and-set; None if the order was not
        in a state `to` may be entered from (another decision won, or it never was)."""
        now = self.clock()
        moved = await self.repository.transition(
            facts.id,
            to,
            ENTERED_FROM[to],
            now,
            [announce(facts, to, payload, **event_fields)],
            dict(fields or {}),
            # Stored for the deadline sweep, the backstop of a lost timer (`deadline_sweep`).
            deadline=None
            if to in TERMINAL
            else self.deadlines.of(to, now, facts.checkout_expires_at),
        )
        if moved is None:
            return None
        metrics.ORDER_TRANSITIONS.labels(to.value, left(moved).value).inc()
        return self.remember(moved)


def left(moved: Order) -> Status:
    """The status a transition just left: the compare-and-set allows several, and the
    order's history (the write pushed the new status last) says which it was."""
    return moved.history[-2][0]
