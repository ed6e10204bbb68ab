"""Placing an order: priced by Menu, stock held by Stock, stored with `order.placed`, and its
deadline timer set before anything is held; all of it or nothing."""

from __future__ import annotations

import uuid

import pytest

from oms import domain_events as events
from oms.contracts.v1 import menu_pb2
from oms.order.domain import InsufficientStock, Status
from oms.order.placing import IDEMPOTENCY_NAMESPACE
from oms.platform.errors import InvalidArgument, Unavailable
from tests.order.bus import payloads, timers
from tests.order.conftest import DEADLINES, NO_CHECKOUT, OrderWorld


async def _timers(world: OrderWorld) -> list[tuple[int, str]]:
    found = await timers(world.bus.broker, events.DeadlineDue.ROUTING_KEY)
    return [(seconds, events.parse(events.DeadlineDue, e).order_id) for seconds, e in found]


async def test_an_order_is_priced_by_menu_held_by_stock_and_announced(world: OrderWorld) -> None:
    pizza, wine = await world.dish(950), await world.dish(1800)

    order = await world.place((pizza, 2), (wine, 1), (pizza, 1))

    assert order.status is Status.PENDING
    assert [(i.item_id, i.quantity, i.unit_price_minor) for i in order.items] == sorted(
        [(pizza, 3, 950), (wine, 1, 1800)]
    )
    assert order.total_minor == 3 * 950 + 1800
    assert order.checkout_expires_at == order.created_at + DEADLINES.checkout_window
    assert (await world.kitchenware.reserved(pizza), await world.kitchenware.reserved(wine)) == (
        3,
        1,
    )
    assert (await world.order(order.id)).total_minor == order.total_minor
    (placed,) = payloads(await world.published(), events.OrderPlaced)
    assert (placed.order_id, placed.customer_id, placed.status, placed.step) == (
        order.id,
        "alice",
        "pending",
        1,
    )
    assert (placed.currency, placed.total_minor) == ("EUR", order.total_minor)
    assert [(x.item_id, x.quantity, x.unit_price_minor) for x in placed.lines] == [
        (i.item_id, i.quantity, i.unit_price_minor) for i in order.items
    ]
    assert placed.checkout_expires_at == order.checkout_expires_at
    assert placed.access_token == order.access_token


async def test_a_price_change_reaches_new_orders_and_not_placed_ones(world: OrderWorld) -> None:
    pizza = await world.dish(950)
    first = await world.place((pizza, 1))
    menu = world.kitchenware.menu
    item = (await menu.GetItems(menu_pb2.GetItemsRequest(ids=[pizza]))).items[0]
    item.price.amount_minor = 1200
    await menu.UpsertItem(menu_pb2.UpsertItemRequest(item=item))
    world.menu.invalidate()  # `menu.changed`

    second = await world.place((pizza, 1))

    assert (first.total_minor, second.total_minor) == (950, 1200)
    assert (await world.order(first.id)).total_minor == 950


@pytest.mark.parametrize("problem", ["unknown", "off the menu", "two currencies"])
async def test_an_order_menu_cannot_price_is_refused_before_anything_is_held(
    world: OrderWorld, problem: str
) -> None:
    pizza = await world.dish(950)
    other = {
        "unknown": f"ghost-{uuid.uuid4().hex[:6]}",
        "off the menu": await world.dish(700, offered=False),
        "two currencies": await world.dish(700, currency="USD"),
    }[problem]

    with pytest.raises(InvalidArgument) as refused:
        await world.place((pizza, 1), (other, 1))

    message = str(refused.value)
    assert (other in message) if problem != "two currencies" else ("one currency" in message)
    assert await world.kitchenware.reserved(pizza) == 0
    assert await world.repository.orders.count_documents({}) == 0
    assert await world.published() == []
    assert await _timers(world) == []


async def test_the_same_idempotency_key_returns_the_first_order(world: OrderWorld) -> None:
    pizza, wine = await world.dish(950), await world.dish(1800)

    first = await world.place((pizza, 2), key="key-1")
    again = await world.place((pizza, 2), key="key-1")
    changed = await world.place((wine, 1), key="key-1")
    someone_else = await world.place((pizza, 1), customer="bob", key="key-1")

    assert first.id == str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, "alice/key-1"))
    assert again == first
    assert changed == first
    assert someone_else.id != first.id
    assert await world.kitchenware.reserved(pizza) == 3  # alice's 2 once, bob's 1
    assert await world.kitchenware.reserved(wine) == 0
    placed = payloads(await world.published(), events.OrderPlaced)
    assert sorted(p.customer_id for p in placed) == ["alice", "bob"]


async def test_a_repeated_key_returns_the_order_even_after_its_item_left_the_menu(
    world: OrderWorld,
) -> None:
    pizza = await world.dish(950)
    first = await world.place((pizza, 1), key="key-4")
    await world.kitchenware.menu.SetItemOffered(
        menu_pb2.SetItemOfferedRequest(id=pizza, offered=False)
    )
    world.menu.invalidate()  # `menu.changed`

    # The client retries a request whose answer it lost: its order exists, and stands.
    again = await world.place((pizza, 1), key="key-4")

    assert again == first
    with pytest.raises(InvalidArgument):
        await world.place((pizza, 1), key="key-5")


async def test_a_key_whose_order_has_ended_still_returns_that_order(world: OrderWorld) -> None:
    pizza = await world.dish(950)
    first = await world.place((pizza, 1), key="key-2")
    world.desk.answer = NO_CHECKOUT
    await world.handlers.cancel(first.id, "alice")
    await world.handlers.stock.release(first.id, "cancelled")  # what Stock does on the event

    again = await world.place((pizza, 1), key="key-2")

    assert again.id == first.id
    assert again.status is Status.CANCELLED
    assert await world.kitchenware.reserved(pizza) == 0


async def test_a_shortage_holds_nothing_and_stores_nothing(world: OrderWorld) -> None:
    pizza, wine = await world.dish(950, on_hand=5), await world.dish(1800, on_hand=1)

    with pytest.raises(InsufficientStock) as short:
        await world.place((pizza, 2), (wine, 2))

    assert [(s.item_id, s.requested, s.available) for s in short.value.shortages] == [(wine, 2, 1)]
    assert (await world.kitchenware.reserved(pizza), await world.kitchenware.reserved(wine)) == (
        0,
        0,
    )
    assert await world.repository.orders.count_documents({}) == 0
    assert await world.published() == []


async def test_the_deadline_timer_is_set_when_an_order_is_placed(world: OrderWorld) -> None:
    pizza = await world.dish()

    order = await world.place((pizza, 1))

    assert await _timers(world) == [(120, order.id)]


async def test_the_timer_is_set_before_stock_is_asked_so_a_crash_leaves_no_orphan(
    world: OrderWorld,
) -> None:
    pizza = await world.dish()
    world.stock_unreachable()

    with pytest.raises(Unavailable):
        await world.place((pizza, 1), key="key-3")

    order_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, "alice/key-3"))
    # Whatever Stock did before the failure, the timer will find no order and release it.
    assert await _timers(world) == [(120, order_id)]
    assert await world.repository.orders.count_documents({}) == 0


@pytest.mark.parametrize(
    ("customer", "key"),
    [("alice\n", ""), ("", ""), ("al ice", ""), ("alice", "k" * 129)],
)
async def test_a_bad_customer_or_key_is_refused(world: OrderWorld, customer: str, key: str) -> None:
    pizza = await world.dish()

    with pytest.raises(InvalidArgument):
        await world.place((pizza, 1), customer=customer, key=key)

    assert await world.repository.orders.count_documents({}) == 0
