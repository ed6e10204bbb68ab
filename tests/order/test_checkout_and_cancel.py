"""Payment hands Order the checkout's link; a customer cancels, or staff void, an unpaid order
only after Payment has closed its checkout, so nobody can pay an order that ended."""

from __future__ import annotations

import pytest

from oms import domain_events as events
from oms.order.domain import Checkout, IllegalTransition, Status
from oms.platform.errors import FailedPrecondition, InvalidArgument, NotFound, Unavailable
from tests.order.bus import payloads
from tests.order.conftest import ALREADY_PAID, NO_CHECKOUT, OrderWorld

LINK = "https://checkout.stripe.com/c/pay/cs_test_1"


async def test_the_checkout_link_makes_a_placed_order_await_payment(world: OrderWorld) -> None:
    order = await world.stored(Status.PENDING)

    attached = await world.handlers.attach_checkout(order.id, "cs_test_1", LINK)

    assert attached.status is Status.AWAITING_PAYMENT
    assert attached.checkout == Checkout("cs_test_1", LINK)
    assert await world.order(order.id) == attached
    (awaiting,) = payloads(await world.published(), events.OrderAwaitingPayment)
    assert (awaiting.order_id, awaiting.status, awaiting.step) == (order.id, "awaiting_payment", 2)
    assert (awaiting.customer_id, awaiting.payment_link) == ("alice", LINK)


async def test_attaching_the_checkout_again_is_a_no_op(world: OrderWorld) -> None:
    order = await world.stored(Status.PENDING)
    first = await world.handlers.attach_checkout(order.id, "cs_test_1", LINK)

    again = await world.handlers.attach_checkout(order.id, "cs_test_1", LINK)

    assert again == first
    assert [e.type for e in await world.published()] == ["order.awaiting_payment"]


async def test_a_link_that_arrives_after_the_payment_changes_nothing(world: OrderWorld) -> None:
    order = await world.stored(Status.PAID)

    late = await world.handlers.attach_checkout(order.id, "cs_test_1", LINK)

    assert late.status is Status.PAID
    assert await world.published() == []


@pytest.mark.parametrize("ended", [Status.CANCELLED, Status.EXPIRED])
async def test_a_checkout_for_an_order_that_ended_is_refused(
    world: OrderWorld, ended: Status
) -> None:
    order = await world.stored(ended)

    with pytest.raises(FailedPrecondition):
        await world.handlers.attach_checkout(order.id, "cs_test_1", LINK)

    assert (await world.order(order.id)).status is ended
    assert await world.published() == []


async def test_a_checkout_needs_its_order_session_and_link(world: OrderWorld) -> None:
    order = await world.stored(Status.PENDING)

    with pytest.raises(InvalidArgument):
        await world.handlers.attach_checkout(order.id, "", LINK)
    with pytest.raises(NotFound):
        await world.handlers.attach_checkout("no-such-order", "cs_test_1", LINK)


@pytest.mark.parametrize("status", [Status.PENDING, Status.AWAITING_PAYMENT])
async def test_a_customer_cancels_after_the_checkout_is_closed(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)
    if status is Status.PENDING:
        world.desk.answer = NO_CHECKOUT

    cancelled = await world.handlers.cancel(order.id, "alice")

    assert cancelled.status is Status.CANCELLED
    # Payment was asked while the order was still open: the close came first.
    assert world.desk.calls == [(order.id, status)]
    published = await world.published()
    (announced,) = payloads(published, events.OrderCancelled)
    assert (announced.order_id, announced.status, announced.step) == (order.id, "cancelled", 7)
    assert (announced.by, announced.reason) == ("customer", "")
    assert [e.version for e in published] == [2]


async def test_an_order_paid_while_it_was_being_cancelled_stays_unpaid_and_open(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    world.desk.answer = ALREADY_PAID

    with pytest.raises(FailedPrecondition, match="paid"):
        await world.handlers.cancel(order.id, "alice")

    # Not cancelled: the capture on its way makes it paid.
    assert (await world.order(order.id)).status is Status.AWAITING_PAYMENT
    assert await world.published() == []


async def test_a_cancel_payment_cannot_confirm_leaves_the_order_as_it_was(
    world: OrderWorld,
) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    world.desk.unreachable = True

    with pytest.raises(Unavailable):
        await world.handlers.cancel(order.id, "alice")

    assert (await world.order(order.id)).status is Status.AWAITING_PAYMENT
    assert await world.published() == []


async def test_staff_void_an_unpaid_order_with_a_reason(world: OrderWorld) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)

    voided = await world.handlers.cancel(order.id, reason="customer left", by="staff")

    assert (voided.status, voided.reason) == (Status.CANCELLED, "customer left")
    (announced,) = payloads(await world.published(), events.OrderCancelled)
    assert (announced.by, announced.reason) == ("staff", "customer left")


async def test_cancelling_twice_cancels_once(world: OrderWorld) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)
    first = await world.handlers.cancel(order.id, "alice")

    again = await world.handlers.cancel(order.id, "alice")

    assert again == first
    assert len(world.desk.calls) == 1
    assert [e.type for e in await world.published()] == ["order.cancelled"]


@pytest.mark.parametrize("status", [Status.PAID, Status.READY, Status.EXPIRED])
async def test_an_order_past_payment_cannot_be_cancelled(world: OrderWorld, status: Status) -> None:
    order = await world.stored(status)

    with pytest.raises(IllegalTransition):
        await world.handlers.cancel(order.id, "alice")

    assert world.desk.calls == []
    assert (await world.order(order.id)).status is status


async def test_another_customer_cannot_cancel_an_order(world: OrderWorld) -> None:
    order = await world.stored(Status.AWAITING_PAYMENT)

    with pytest.raises(NotFound):
        await world.handlers.cancel(order.id, "mallory")

    assert world.desk.calls == []
    assert (await world.order(order.id)).status is Status.AWAITING_PAYMENT
