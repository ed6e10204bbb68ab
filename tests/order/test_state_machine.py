"""The order state machine: each status is entered only from the states ENTERED_FROM lists,
by one compare-and-set in storage that also publishes the decision, and steps only grow."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

from oms import domain_events as events
from oms.order.domain import ENTERED_FROM, STEP, TERMINAL, Order, OrderItem, Status
from tests.order.bus import payloads
from tests.order.conftest import OrderWorld

# What each decision announces besides status and step.
ANNOUNCED: dict[Status, tuple[type[events.OrderEvent], dict[str, Any]]] = {
    Status.AWAITING_PAYMENT: (
        events.OrderAwaitingPayment,
        {"payment_link": "https://pay/x", "checkout_session_id": "cs_x"},
    ),
    Status.PAID: (
        events.OrderConfirmed,
        {"lines": [{"item_id": "pizza", "name": "Pizza", "quantity": 2, "unit_price_minor": 900}]},
    ),
    Status.PREPARING: (events.OrderPreparing, {"cook": "k/cook-1"}),
    Status.READY: (events.OrderReady, {"cook": "k/cook-1"}),
    Status.PICKED_UP: (events.OrderPickedUp, {}),
    Status.CANCELLED: (events.OrderCancelled, {"by": "customer"}),
    Status.EXPIRED: (events.OrderExpired, {"reason": "late"}),
    Status.REFUNDED: (events.OrderRefunded, {"reason": "burnt"}),
}
ALLOWED = [(before, after) for after, froms in ENTERED_FROM.items() for before in froms]
REFUSED = [
    (before, after)
    for before, after in itertools.product(Status, ENTERED_FROM)
    if before not in ENTERED_FROM[after]
]


async def _in(world: OrderWorld, status: Status) -> Order:
    now = world.clock()
    order = Order(
        id=str(uuid.uuid4()),
        customer_id="alice",
        status=status,
        items=(OrderItem("pizza", "Pizza", 2, 900),),
        currency="EUR",
        created_at=now,
        updated_at=now,
        access_token="t" * 32,
        checkout_expires_at=now,
        history=((status, now),),
    )
    await world.repository.insert(order, [])
    return order


def test_steps_only_grow_along_every_allowed_transition() -> None:
    for after, froms in ENTERED_FROM.items():
        for before in froms:
            assert STEP[before] < STEP[after], f"{before} -> {after}"


def test_terminal_states_are_left_by_no_transition_and_pending_is_only_the_start() -> None:
    assert all(not (TERMINAL & froms) for froms in ENTERED_FROM.values())
    assert Status.PENDING not in ENTERED_FROM
    reachable = {Status.PENDING} | set(ENTERED_FROM)
    assert reachable == set(Status)


async def test_every_allowed_transition_applies_once_and_announces_status_and_step(
    world: OrderWorld,
) -> None:
    moved: list[tuple[Order, Status]] = []
    for before, after in ALLOWED:
        order = await _in(world, before)
        payload, fields = ANNOUNCED[after]

        applied = await world.handlers.transitions.move(
            order.facts, after, payload=payload, **fields
        )
        again = await world.handlers.transitions.move(order.facts, after, payload=payload, **fields)

        assert applied is not None, f"{before} -> {after}"
        assert applied.status is after
        assert [status for status, _ in applied.history] == [before, after]
        assert again is None, f"{before} -> {after} applied twice"
        moved.append((order, after))

    published = await world.published()
    assert len(published) == len(ALLOWED)
    for order, after in moved:
        payload, fields = ANNOUNCED[after]
        (announced,) = [p for p in payloads(published, payload) if p.order_id == order.id]
        assert (announced.status, announced.step) == (after.value, STEP[after])
        assert announced.customer_id == "alice"
        for name, value in fields.items():
            dumped = announced.model_dump(mode="json")[name]
            assert dumped == value, f"{after}: {name}"


async def test_every_other_transition_is_refused_and_changes_nothing(world: OrderWorld) -> None:
    for before, after in REFUSED:
        order = await _in(world, before)
        payload, fields = ANNOUNCED[after]

        refused = await world.handlers.transitions.move(
            order.facts, after, payload=payload, **fields
        )

        assert refused is None, f"{before} -> {after} was allowed"
        stored = await world.order(order.id)
        assert (stored.status, len(stored.history)) == (before, 1)

    assert await world.published() == []
