"""Payment opens a placed order's Checkout Session with the terms Order fixed, and hands its
link to Order; an order that ended meanwhile gets its session closed, never paid."""

from __future__ import annotations

from oms import domain_events as events
from oms.order.domain import Checkout, Status
from oms.payment import consumers
from oms.payment.domain import PaymentStatus
from oms.payment.handlers import CloseOutcome, PaymentHandlers
from oms.platform.consumer import Consumer
from tests.order.bus import payloads
from tests.payment.conftest import TEST_PAGE, PaymentWorld


async def test_a_placed_order_gets_a_checkout_and_order_gets_its_link(world: PaymentWorld) -> None:
    placed = await world.placed()

    await world.handlers.open_checkout(placed)

    payment = await world.payment(placed.order_id)
    assert payment.status is PaymentStatus.OPEN
    assert payment.checkout_session_id.startswith("cs_")
    assert payment.url.startswith("https://")
    assert payment.expires_at == placed.checkout_expires_at
    assert (payment.amount_minor, payment.currency) == (placed.total_minor, "EUR")
    order = await world.orders.get(placed.order_id)
    assert order is not None
    assert order.status is Status.AWAITING_PAYMENT
    assert order.checkout == Checkout(payment.checkout_session_id, payment.url)
    published = await world.published()
    assert [e.type for e in published] == ["order.awaiting_payment"]  # Order's decision
    (awaiting,) = payloads(published, events.OrderAwaitingPayment)
    assert awaiting.payment_link == payment.url


async def test_a_redelivered_order_keeps_its_first_checkout(world: PaymentWorld) -> None:
    placed, first = await world.opened()

    await world.handlers.open_checkout(placed)

    assert await world.payment(placed.order_id) == first
    assert await world.repository.payments.count_documents({}) == 1
    assert [e.type for e in await world.published()] == ["order.awaiting_payment"]


async def test_with_the_local_test_page_the_link_is_that_page(world: PaymentWorld) -> None:
    handlers = PaymentHandlers(
        world.repository, world.handlers.stripe, world.handlers.orders, TEST_PAGE
    )
    placed = await world.placed()

    await handlers.open_checkout(placed)

    payment = await world.payment(placed.order_id)
    assert payment.url == TEST_PAGE.format(order_id=placed.order_id)


async def test_a_checkout_opened_for_an_order_that_ended_meanwhile_is_closed(
    world: PaymentWorld,
) -> None:
    placed = await world.placed(Status.CANCELLED)

    await world.handlers.open_checkout(placed)

    payment = await world.payment(placed.order_id)
    assert payment.status is PaymentStatus.CLOSED
    assert payment.checkout_session_id.startswith("cs_")  # closed at Stripe, kept for the books
    order = await world.orders.get(placed.order_id)
    assert order is not None
    assert order.status is Status.CANCELLED
    assert await world.published() == []


async def test_a_checkout_closed_before_it_opened_is_never_opened(world: PaymentWorld) -> None:
    placed = await world.placed()

    outcome = await world.handlers.close_checkout(placed.order_id)
    await world.handlers.open_checkout(placed)  # order.placed arrives after the close

    assert outcome is CloseOutcome.NO_CHECKOUT
    payment = await world.payment(placed.order_id)
    assert (payment.status, payment.checkout_session_id) == (PaymentStatus.CLOSED, "")
    order = await world.orders.get(placed.order_id)
    assert order is not None
    assert order.status is Status.PENDING  # no link was handed to Order
    assert await world.published() == []


async def test_order_placed_reaches_payment_through_payment_orders(world: PaymentWorld) -> None:
    placed = await world.placed()
    queue = events.PAYMENT_ORDERS.queue
    consumer = Consumer(world.tap.broker, queue, consumers.orders(world.handlers))
    await consumer.start()
    try:
        await world.tap.broker.publish(placed.to_event())
        awaiting = await world.tap.next(events.OrderAwaitingPayment.ROUTING_KEY)
    finally:
        await consumer.stop()

    assert events.parse(events.OrderAwaitingPayment, awaiting).order_id == placed.order_id
    assert set(consumers.orders(world.handlers)) == set(events.PAYMENT_ORDERS.routing_keys)
