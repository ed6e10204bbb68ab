"""OrderService over gRPC: protobuf in, use cases, protobuf out."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import common_pb2, order_pb2, order_pb2_grpc, stock_pb2
from oms.order.domain import InsufficientStock, Order, Status
from oms.order.handlers import OrderHandlers
from oms.order_lines import Line
from oms.platform.errors import ResourceExhausted
from oms.platform.grpc_server import Api, Contract
from oms.platform.protobuf import enum_values, inverse, timestamp

STATUS = enum_values(Status, order_pb2.OrderStatus, "ORDER_STATUS_")
FROM_PROTO = inverse(STATUS)


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
        payment_link=order.checkout.link,
        checkout_session_id=order.checkout.session_id,
        created_at=timestamp(order.created_at),
        updated_at=timestamp(order.updated_at),
        step=order.step,
        reason=order.reason,
        history=[
            order_pb2.StatusChange(status=STATUS[status], at=timestamp(at))
            for status, at in order.history
        ],
        cook=order.cook,
        access_token=order.access_token,
        checkout_expires_at=timestamp(order.checkout_expires_at),
        refund_required=order.refund_required,
        refunded=order.refunded,
    )


def _page(orders: list[Order], token: str) -> order_pb2.ListOrdersResponse:
    return order_pb2.ListOrdersResponse(
        orders=[to_proto(order) for order in orders], next_page_token=token
    )


class OrderApi(Api[OrderHandlers], order_pb2_grpc.OrderServiceServicer):
    async def CreateOrder(
        self, request: order_pb2.CreateOrderRequest, context: Any
    ) -> order_pb2.Order:
        lines = [Line(line.item_id, line.quantity) for line in request.lines]
        try:
            order = await self.handlers.place(request.customer_id, lines, request.idempotency_key)
        except InsufficientStock as exc:
            details = stock_pb2.CheckStockResponse(
                shortages=[
                    stock_pb2.Shortage(
                        item_id=s.item_id, requested=s.requested, available=s.available
                    )
                    for s in exc.shortages
                ]
            )
            raise ResourceExhausted(str(exc), details.SerializeToString()) from exc
        return to_proto(order)

    async def GetOrder(self, request: order_pb2.GetOrderRequest, context: Any) -> order_pb2.Order:
        order = await self.handlers.get(request.order_id, request.customer_id, request.access_token)
        return to_proto(order)

    async def ListOrders(
        self, request: order_pb2.ListOrdersRequest, context: Any
    ) -> order_pb2.ListOrdersResponse:
        orders, token = await self.handlers.list_for_customer(
            request.customer_id, request.page_size, request.page_token
        )
        return _page(orders, token)

    async def ListAllOrders(
        self, request: order_pb2.ListAllOrdersRequest, context: Any
    ) -> order_pb2.ListOrdersResponse:
        statuses = {FROM_PROTO[s] for s in request.statuses if s in FROM_PROTO}
        orders, token = await self.handlers.list_all(
            statuses, request.query, request.page_size, request.page_token
        )
        return _page(orders, token)

    async def CancelOrder(
        self, request: order_pb2.CancelOrderRequest, context: Any
    ) -> order_pb2.Order:
        order = await self.handlers.cancel(request.order_id, request.customer_id)
        return to_proto(order)

    async def VoidOrder(self, request: order_pb2.VoidOrderRequest, context: Any) -> order_pb2.Order:
        order = await self.handlers.cancel(request.order_id, reason=request.reason, by="staff")
        return to_proto(order)

    async def RefundOrder(
        self, request: order_pb2.RefundOrderRequest, context: Any
    ) -> order_pb2.Order:
        return to_proto(await self.handlers.refund(request.order_id, request.reason))

    async def PickUpOrder(
        self, request: order_pb2.PickUpOrderRequest, context: Any
    ) -> order_pb2.Order:
        return to_proto(await self.handlers.pick_up(request.order_id))

    async def AttachPayment(
        self, request: order_pb2.AttachPaymentRequest, context: Any
    ) -> order_pb2.Order:
        order = await self.handlers.attach_checkout(
            request.order_id, request.checkout_session_id, request.payment_link
        )
        return to_proto(order)


CONTRACT = Contract(order_pb2.DESCRIPTOR, order_pb2_grpc.add_OrderServiceServicer_to_server)
