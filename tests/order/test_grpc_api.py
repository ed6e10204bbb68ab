"""OrderService over real gRPC: what callers (the gateway, Payment) get back, and the status
codes Order's refusals and its dependencies' outages become."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import grpc
import pytest

from oms.contracts.v1 import common_pb2, order_pb2, order_pb2_grpc, stock_pb2
from oms.limits import MAX_REASON
from oms.order.domain import Status
from oms.order.grpc_api import OrderApi
from oms.platform.grpc_server import DETAILS_KEY, GrpcServer
from oms.platform.settings import GrpcSettings
from tests.order.conftest import OrderWorld


@pytest.fixture
async def order_service(world: OrderWorld) -> AsyncIterator[order_pb2_grpc.OrderServiceAsyncStub]:
    server = GrpcServer(GrpcSettings(port=0), service_names=[])
    order_pb2_grpc.add_OrderServiceServicer_to_server(OrderApi(world.handlers), server.server)
    await server.start()
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield order_pb2_grpc.OrderServiceStub(channel)
    await server.server.stop(0)


def _create(item_id: str, quantity: int = 1) -> order_pb2.CreateOrderRequest:
    line = common_pb2.OrderLine(item_id=item_id, quantity=quantity)
    return order_pb2.CreateOrderRequest(customer_id="alice", lines=[line])


async def _code(call: Awaitable[object]) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await call
    code: grpc.StatusCode = failed.value.code()
    return code


async def test_a_created_order_comes_back_priced_with_its_step_and_history(
    world: OrderWorld, order_service: order_pb2_grpc.OrderServiceAsyncStub
) -> None:
    dish = await world.dish(950)

    created = await order_service.CreateOrder(_create(dish, 2))
    read = await order_service.GetOrder(
        order_pb2.GetOrderRequest(order_id=created.id, access_token=created.access_token)
    )

    assert read == created
    assert (created.status, created.step) == (order_pb2.ORDER_STATUS_PENDING, 1)
    assert (created.total.amount_minor, created.total.currency) == (1900, "EUR")
    assert [(i.item_id, i.quantity, i.unit_price.amount_minor) for i in created.items] == [
        (dish, 2, 950)
    ]
    assert [change.status for change in created.history] == [order_pb2.ORDER_STATUS_PENDING]


async def test_a_shortage_is_resource_exhausted_with_the_short_items(
    world: OrderWorld, order_service: order_pb2_grpc.OrderServiceAsyncStub
) -> None:
    dish = await world.dish(on_hand=1)

    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await order_service.CreateOrder(_create(dish, 3))

    assert failed.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    details = dict(failed.value.trailing_metadata() or ())[DETAILS_KEY]
    shortages = stock_pb2.CheckStockResponse.FromString(details).shortages
    assert [(s.item_id, s.requested, s.available) for s in shortages] == [(dish, 3, 1)]


async def test_refusals_and_outages_have_their_status_codes(
    world: OrderWorld, order_service: order_pb2_grpc.OrderServiceAsyncStub
) -> None:
    paid = await world.stored(Status.PAID)
    unpaid = await world.stored(Status.AWAITING_PAYMENT)

    unknown = await _code(order_service.CreateOrder(_create("ghost-dish")))
    not_found = await _code(order_service.GetOrder(order_pb2.GetOrderRequest(order_id="nope")))
    illegal = await _code(order_service.CancelOrder(order_pb2.CancelOrderRequest(order_id=paid.id)))
    world.desk.unreachable = True
    payment_down = await _code(
        order_service.CancelOrder(order_pb2.CancelOrderRequest(order_id=unpaid.id))
    )
    world.stock_unreachable()
    dish = await world.dish()
    stock_down = await _code(order_service.CreateOrder(_create(dish)))

    assert unknown is grpc.StatusCode.INVALID_ARGUMENT
    assert not_found is grpc.StatusCode.NOT_FOUND
    assert illegal is grpc.StatusCode.FAILED_PRECONDITION
    assert payment_down is grpc.StatusCode.UNAVAILABLE
    assert stock_down is grpc.StatusCode.UNAVAILABLE


async def test_a_reason_longer_than_the_shared_limit_is_invalid_and_changes_nothing(
    world: OrderWorld, order_service: order_pb2_grpc.OrderServiceAsyncStub
) -> None:
    paid = await world.stored(Status.PAID)
    unpaid = await world.stored(Status.AWAITING_PAYMENT)
    too_long = "x" * (MAX_REASON + 1)

    refund = await _code(
        order_service.RefundOrder(order_pb2.RefundOrderRequest(order_id=paid.id, reason=too_long))
    )
    void = await _code(
        order_service.VoidOrder(order_pb2.VoidOrderRequest(order_id=unpaid.id, reason=too_long))
    )
    untouched = [(await world.order(o.id)).status for o in (paid, unpaid)]
    longest = "x" * MAX_REASON
    refunded = await order_service.RefundOrder(
        order_pb2.RefundOrderRequest(order_id=paid.id, reason=longest)
    )

    assert (refund, void) == (grpc.StatusCode.INVALID_ARGUMENT,) * 2
    assert untouched == [Status.PAID, Status.AWAITING_PAYMENT]
    assert world.desk.calls == []  # refused before Payment was asked to close the checkout
    assert refunded.reason == longest
