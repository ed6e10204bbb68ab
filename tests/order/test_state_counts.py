"""How many orders are in each state now, from Order's counters alone: every transition is
counted by the state it entered and the one it left, so entered minus left is what is in a
state, summed over every Order process, with no query of the orders."""

from __future__ import annotations

from prometheus_client import REGISTRY

from oms import domain_events as events
from oms.order.domain import Status
from tests.order.conftest import NO_CHECKOUT, OrderWorld

TRANSITIONS = "oms_order_transitions_total"


def _in_each_state() -> dict[Status, float]:
    """Entered minus left, per status, as the dashboard computes it from a scrape."""
    counts = dict.fromkeys(Status, 0.0)
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name != TRANSITIONS:
                continue
            counts[Status(sample.labels["status"])] += sample.value
            if sample.labels["from"]:
                counts[Status(sample.labels["from"])] -= sample.value
    return counts


def _moved(before: dict[Status, float]) -> dict[Status, float]:
    after = _in_each_state()
    return {status: after[status] - before[status] for status in Status}


async def test_orders_in_each_state_are_what_entered_it_minus_what_left_it(
    world: OrderWorld,
) -> None:
    dish = await world.dish()
    before = _in_each_state()

    paid = await world.place((dish, 1))
    waiting = await world.place((dish, 1))
    lapsed = await world.place((dish, 1))
    assert _moved(before)[Status.PENDING] == 3
    for order in (paid, waiting):
        await world.handlers.attach_checkout(order.id, f"cs_{order.id}", "https://pay/x")
    captured = events.PaymentCaptured(
        order_id=paid.id,
        checkout_session_id=f"cs_{paid.id}",
        amount_minor=paid.total_minor,
        currency=paid.currency,
    )
    await world.reactions.payment_captured(captured)
    world.desk.answer = NO_CHECKOUT
    world.clock.advance(world.handlers.deadlines.pending * 2)
    await world.reactions.deadline_due(events.DeadlineDue(order_id=lapsed.id))

    moved = _moved(before)
    assert moved[Status.PENDING] == 0
    assert moved[Status.AWAITING_PAYMENT] == 1
    assert moved[Status.PAID] == 1
    assert moved[Status.EXPIRED] == 1
    assert sum(moved.values()) == 3  # each order is in exactly one state
