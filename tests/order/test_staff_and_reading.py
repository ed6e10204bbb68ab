"""Staff refund a paid order before it is ready and hand ready ones over; customers read
their own orders (by session or by the order's unguessable token), staff read them all."""

from __future__ import annotations

from datetime import timedelta

import pytest

from oms import domain_events as events
from oms.limits import MAX_PAGE_SIZE
from oms.order.domain import IllegalTransition, Status
from oms.platform.errors import InvalidArgument, NotFound
from tests.order.bus import payloads
from tests.order.conftest import OrderWorld


@pytest.mark.parametrize("status", [Status.PAID, Status.PREPARING])
async def test_a_refund_is_announced_and_its_stock_waits_for_the_kitchens_void(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    refunded = await world.handlers.refund(order.id, "burnt")

    assert (refunded.status, refunded.reason) == (Status.REFUNDED, "burnt")
    # Paid or preparing, Order cannot know if a cook has just started: the kitchen will say.
    assert refunded.refund_stock == ""
    (event,) = await world.published()
    announced = events.parse(events.OrderRefunded, event)
    assert (event.type, event.version, "stock" in event.data) == ("order.refunded", 2, False)
    assert (announced.order_id, announced.status, announced.step) == (order.id, "refunded", 7)
    assert (announced.reason, announced.customer_id) == ("burnt", "alice")


async def test_refunding_twice_refunds_once(world: OrderWorld) -> None:
    order = await world.stored(Status.PAID)
    first = await world.handlers.refund(order.id, "burnt")

    again = await world.handlers.refund(order.id, "burnt again")

    assert again == first
    assert [e.type for e in await world.published()] == ["order.refunded"]


@pytest.mark.parametrize(
    "status", [Status.READY, Status.PICKED_UP, Status.AWAITING_PAYMENT, Status.CANCELLED]
)
async def test_an_order_that_is_ready_or_unpaid_cannot_be_refunded(
    world: OrderWorld, status: Status
) -> None:
    order = await world.stored(status)

    with pytest.raises(IllegalTransition):
        await world.handlers.refund(order.id, "too late")

    assert (await world.order(order.id)).status is status
    assert await world.published() == []


async def test_a_ready_order_is_picked_up_once(world: OrderWorld) -> None:
    order = await world.stored(Status.READY)

    picked = await world.handlers.pick_up(order.id)
    again = await world.handlers.pick_up(order.id)

    assert picked.status is again.status is Status.PICKED_UP
    (announced,) = payloads(await world.published(), events.OrderPickedUp)
    assert (announced.order_id, announced.status, announced.step) == (order.id, "picked_up", 6)


@pytest.mark.parametrize("status", [Status.PREPARING, Status.REFUNDED])
async def test_only_a_ready_order_can_be_picked_up(world: OrderWorld, status: Status) -> None:
    order = await world.stored(status)

    with pytest.raises(IllegalTransition):
        await world.handlers.pick_up(order.id)

    assert await world.published() == []


@pytest.mark.parametrize(
    ("customer", "token"),
    [("mallory", ""), ("", "wrong-token"), ("", "é-not-ascii"), ("", "x" * 2000)],
)
async def test_an_order_is_not_found_by_anyone_else(
    world: OrderWorld, customer: str, token: str
) -> None:
    order = await world.stored(Status.PENDING)

    with pytest.raises(NotFound):
        await world.handlers.get(order.id, customer, token)


async def test_an_order_is_read_by_its_customer_or_with_its_token(world: OrderWorld) -> None:
    order = await world.stored(Status.PENDING)

    assert await world.handlers.get(order.id, "alice") == order
    assert await world.handlers.get(order.id, access_token=order.access_token) == order


async def test_a_customers_orders_are_listed_newest_first_a_page_at_a_time(
    world: OrderWorld,
) -> None:
    dish = await world.dish()
    placed = []
    for _ in range(5):
        placed.append(await world.place((dish, 1)))
        world.clock.advance(timedelta(seconds=1))
    await world.place((dish, 1), customer="bob")

    first, token = await world.handlers.list_for_customer("alice", 2, "")
    second, token2 = await world.handlers.list_for_customer("alice", 2, token)
    third, end = await world.handlers.list_for_customer("alice", 2, token2)

    assert [o.id for o in first + second + third] == [o.id for o in reversed(placed)]
    assert end == ""
    with pytest.raises(InvalidArgument):
        await world.handlers.list_for_customer("alice", 2, "not-a-token")
    with pytest.raises(InvalidArgument):
        await world.handlers.list_for_customer("alice", MAX_PAGE_SIZE + 1, "")
    assert len((await world.handlers.list_for_customer("alice", MAX_PAGE_SIZE, ""))[0]) == 5


async def test_staff_list_every_order_by_status_and_by_id_prefix(world: OrderWorld) -> None:
    paid = await world.stored(Status.PAID)
    pending = await world.stored(Status.PENDING)

    by_status, _ = await world.handlers.list_all({Status.PAID}, "", 10, "")
    by_prefix, _ = await world.handlers.list_all(set(), pending.id[:8], 10, "")
    everything, _ = await world.handlers.list_all(set(), "", 10, "")

    assert [o.id for o in by_status] == [paid.id]
    assert [o.id for o in by_prefix] == [pending.id]
    assert {o.id for o in everything} == {paid.id, pending.id}
    with pytest.raises(InvalidArgument):
        await world.handlers.list_all(set(), "q" * 65, 10, "")
