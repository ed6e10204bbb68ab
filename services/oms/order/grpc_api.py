"""OrderService over gRPC."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import common_pb2, order_pb2, order_pb2_grpc
from oms.order.domain import Order, Status
from oms.order.handlers import OrderHandlers
from oms.order_lines import Line
from oms.platform.protobuf import timestamp

STATUS = {
    Status.PENDING: order_pb2.ORDER_STATUS_PENDING,
    Status.AWAITING_PAYMENT: order_pb2.ORDER_STATUS_AWAITING_PAYMENT,
    Status.PAID: order_pb2.ORDER_STATUS_PAID,
    Status.PREPARING: order_pb2.ORDER_STATUS_PREPARING,
    Status.READY: order_pb2.ORDER_STATUS_READY,
    Status.CANCELLED: order_pb2.ORDER_STATUS_CANCELLED,
    Status.EXPIRED: order_pb2.ORDER_STATUS_EXPIRED,
}


def to_proto(order: Order) -> order_pb2.Order:
    def money(amount: int) -> common_pb2.Money:
        return common_pb2.Money(amount_minor=amount, currency=order.currency)

    return order_pb2.Order(
        id=order.id,
        customer_id=order.customer_id,
        status=STATUS[order.status],
        items=[
            order_pb2.OrderItem(
                item_id=item.item_id,
                name=item.name,
                quantity=item.quantity,
                unit_price=money(item.unit_price_minor),
                line_total=money(item.line_total_minor),
            )
            for item in order.items
        ],
        total=money(order.total_minor),
        payment_link=order.payment_link,
        checkout_session_id=order.checkout_session_id,
        created_at=timestamp(order.created_at),
        updated_at=timestamp(order.updated_at),
    )


class OrderApi(order_pb2_grpc.OrderServiceServicer):
    def __init__(self, handlers: OrderHandlers) -> None:
        self.handlers = handlers

    async def CreateOrder(
        self, request: order_pb2.CreateOrderRequest, context: Any
    ) -> order_pb2.Order:
        lines = [Line(line.item_id, line.quantity) for line in request.lines]
        order = await self.handlers.create(request.customer_id, lines, request.idempotency_key)
        return to_proto(order)

    async def GetOrder(self, request: order_pb2.GetOrderRequest, context: Any) -> order_pb2.Order:
        return to_proto(await self.handlers.get(request.customer_id, request.order_id))

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: Any
    ) -> order_pb2.ListOrdersResponse:
        orders, token = await self.handlers.list_orders(
            request.customer_id, request.page_size, request.page_token
        )
        return order_pb2.ListOrdersResponse(
            orders=[to_proto(order) for order in orders], next_page_token=token
        )

    async def CancelOrder(
        self, request: order_pb2.CancelOrderRequest, context: Any
    ) -> order_pb2.Order:
        return to_proto(await self.handlers.cancel(request.customer_id, request.order_id))

    async def AttachPayment(
        self, request: order_pb2.AttachPaymentRequest, context: Any
    ) -> order_pb2.Order:
        expires = request.expires_at.ToDatetime() if request.HasField("expires_at") else None
        order = await self.handlers.attach_payment(
            request.order_id, request.checkout_session_id, request.payment_link, expires
        )
        return to_proto(order)
