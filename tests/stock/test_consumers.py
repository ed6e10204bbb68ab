"""Stock's consumer of Order's decisions: each event type has its effect on stock, once however
often it is delivered; an event that can never apply is parked at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import pytest

from oms import domain_events as events
from oms.platform.consumer import Handlers
from oms.platform.events import Event, PermanentError
from oms.stock import consumers
from oms.stock.domain import R
from oms.stock.handlers import StockHandlers
from tests.stock.support import committed, held, levels, state, stocked


@pytest.fixture
def handlers(stock: StockHandlers) -> Handlers:
    return consumers.orders(stock)


CUSTOMER = "c-1"


def confirmed(order_id: str) -> Event:
    line = events.PricedLine(item_id="pizza", name="Pizza", quantity=3, unit_price_minor=900)
    return events.OrderConfirmed(
        order_id=order_id, customer_id=CUSTOMER, status="paid", step=3, lines=[line]
    ).to_event()


def cancelled(order_id: str) -> Event:
    return events.OrderCancelled(
        order_id=order_id, customer_id=CUSTOMER, status="cancelled", step=7, by="customer"
    ).to_event()


def expired(order_id: str) -> Event:
    return events.OrderExpired(
        order_id=order_id, customer_id=CUSTOMER, status="expired", step=7, reason="deadline"
    ).to_event()


def refund_stock(order_id: str, stock: Literal["return", "write_off"]) -> Event:
    return events.RefundStock(
        order_id=order_id, customer_id=CUSTOMER, status="refunded", step=7, stock=stock
    ).to_event()


async def deliver(handlers: Handlers, event: Event, times: int = 2) -> None:
    """Deliver `event` as the broker may: more than once."""
    for _ in range(times):
        await handlers[event.type](event)


def test_it_handles_exactly_the_events_its_queue_is_bound_to(handlers: Handlers) -> None:
    bound = {payload.ROUTING_KEY for payload in events.STOCK_ORDERS.events}
    assert (
        set(handlers)
        == bound
        == {
            "order.confirmed",
            "order.cancelled",
            "order.expired",
            "order.refund_stock",
        }
    )
    # v1 `order.refunded` told Stock what the stock became; a broker set up then unbinds it.
    assert events.STOCK_ORDERS.retired == ("order.refunded",)


async def test_confirmed_commits(stock: StockHandlers, handlers: Handlers) -> None:
    await stocked(stock, pizza=5)
    order = await held(stock, pizza=3)

    await deliver(handlers, confirmed(order))

    assert await levels(stock, "pizza") == {"pizza": (2, 2)}
    assert await state(stock, order) is R.COMMITTED


@pytest.mark.parametrize("decision", [cancelled, expired])
async def test_cancelled_and_expired_release(
    stock: StockHandlers, handlers: Handlers, decision: Callable[[str], Event]
) -> None:
    await stocked(stock, pizza=5)
    order = await held(stock, pizza=3)

    await deliver(handlers, decision(order))

    assert await levels(stock, "pizza") == {"pizza": (5, 5)}
    assert await state(stock, order) is R.RELEASED


async def test_a_cancelled_order_that_never_held_stock_changes_nothing(
    stock: StockHandlers, handlers: Handlers
) -> None:
    await stocked(stock, pizza=5)

    await deliver(handlers, cancelled("o-never-reserved"))

    assert await levels(stock, "pizza") == {"pizza": (5, 5)}


@pytest.mark.parametrize(
    ("stock_rule", "level", "final"),
    [("return", (5, 5), R.RETURNED), ("write_off", (2, 2), R.WRITTEN_OFF)],
)
async def test_a_refunds_stock_decision_returns_or_writes_off(
    stock: StockHandlers,
    handlers: Handlers,
    stock_rule: Literal["return", "write_off"],
    level: tuple[int, int],
    final: R,
) -> None:
    await stocked(stock, pizza=5)
    order = await committed(stock, pizza=3)

    await deliver(handlers, refund_stock(order, stock_rule))

    assert await levels(stock, "pizza") == {"pizza": level}
    assert await state(stock, order) is final


async def test_a_confirmation_after_a_release_is_parked_at_once(
    stock: StockHandlers, handlers: Handlers
) -> None:
    # Retrying cannot help: the reservation will never be held again.
    await stocked(stock, pizza=5)
    order = await held(stock, pizza=3)
    await deliver(handlers, expired(order))

    with pytest.raises(PermanentError, match="released"):
        await deliver(handlers, confirmed(order), times=1)

    assert await levels(stock, "pizza") == {"pizza": (5, 5)}


async def test_a_confirmation_without_a_reservation_is_parked_at_once(
    handlers: Handlers,
) -> None:
    with pytest.raises(PermanentError, match="no reservation"):
        await deliver(handlers, confirmed("o-unknown"), times=1)


async def test_a_payload_that_does_not_match_is_parked(handlers: Handlers) -> None:
    bad = Event(type="order.confirmed", data={"order_id": "o-1"})

    with pytest.raises(PermanentError, match=r"bad order\.confirmed payload"):
        await handlers["order.confirmed"](bad)
