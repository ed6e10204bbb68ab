"""Typed calls to Menu, Order, Stock and Payment, found through Consul.

Each service has one `Balancer` (round robin over its healthy instances, failing over on
UNAVAILABLE) over the process's shared `Channels`: one channel per target, never one per
request. Every call here is safe to repeat on another instance: reads, absolute writes,
webhooks deduplicated by event id, and order creation under an idempotency key.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import grpc

from oms.contracts.v1 import (
    common_pb2,
    menu_pb2,
    menu_pb2_grpc,
    order_pb2,
    order_pb2_grpc,
    payment_pb2,
    payment_pb2_grpc,
    stock_pb2,
    stock_pb2_grpc,
)
from oms.gateway.schemas import STATUS_CODE, MenuItemIn, OrderStatus
from oms.platform import grpc_client, logs
from oms.platform.grpc_client import Balancer, Channels, Client, Resolve

log = logs.get(__name__)

# Consul name -> the gRPC service whose health the readiness probe asks for.
SERVICES = {
    "menu": menu_pb2.DESCRIPTOR.services_by_name["MenuService"].full_name,
    "order": order_pb2.DESCRIPTOR.services_by_name["OrderService"].full_name,
    "stock": stock_pb2.DESCRIPTOR.services_by_name["StockService"].full_name,
    "payment": payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name,
}


class MenuClient(Client["menu_pb2_grpc.MenuServiceAsyncStub"]):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__(balancer, menu_pb2_grpc.MenuServiceStub)

    async def list_items(self, offered_only: bool) -> list[menu_pb2.MenuItem]:
        request = menu_pb2.ListItemsRequest(offered_only=offered_only)
        response = await self.call(lambda stub: stub.ListItems(request))
        return list(response.items)

    async def exists(self, item_id: str) -> bool:
        request = menu_pb2.GetItemsRequest(ids=[item_id])
        response = await self.call(lambda stub: stub.GetItems(request))
        return not response.unknown_ids

    async def upsert(self, item_id: str, item: MenuItemIn) -> menu_pb2.MenuItem:
        request = menu_pb2.UpsertItemRequest(
            item=menu_pb2.MenuItem(
                id=item_id,
                name=item.name,
                description=item.description,
                price=common_pb2.Money(amount_minor=item.price, currency=item.currency),
                offered=item.offered,
            )
        )
        return await self.call(lambda stub: stub.UpsertItem(request))

    async def set_offered(self, item_id: str, offered: bool) -> menu_pb2.MenuItem:
        request = menu_pb2.SetItemOfferedRequest(id=item_id, offered=offered)
        return await self.call(lambda stub: stub.SetItemOffered(request))


class OrderClient(Client["order_pb2_grpc.OrderServiceAsyncStub"]):
    def __init__(self, balancer: Balancer, create_deadline_seconds: float) -> None:
        super().__init__(balancer, order_pb2_grpc.OrderServiceStub)
        self.create_deadline_seconds = create_deadline_seconds

    async def create(
        self, customer_id: str, lines: Sequence[tuple[str, int]], idempotency_key: str | None
    ) -> order_pb2.Order:
        # Without the client's key we still send one of our own, so that a retry on another
        # instance (the balancer's failover) can never create the order twice.
        request = order_pb2.CreateOrderRequest(
            customer_id=customer_id,
            lines=[common_pb2.OrderLine(item_id=i, quantity=q) for i, q in lines],
            idempotency_key=idempotency_key or f"gateway-{uuid.uuid4()}",
        )
        return await self.call(
            lambda stub: stub.CreateOrder(request, timeout=self.create_deadline_seconds)
        )

    async def get(
        self, order_id: str, customer_id: str = "", access_token: str = ""
    ) -> order_pb2.Order:
        request = order_pb2.GetOrderRequest(
            customer_id=customer_id, order_id=order_id, access_token=access_token
        )
        return await self.call(lambda stub: stub.GetOrder(request))

    async def list(
        self, customer_id: str, page_size: int, page_token: str
    ) -> order_pb2.ListOrdersResponse:
        request = order_pb2.ListOrdersRequest(
            customer_id=customer_id, page_size=page_size, page_token=page_token
        )
        return await self.call(lambda stub: stub.ListOrders(request))

    async def list_all(
        self, statuses: Collection[OrderStatus], query: str, page_size: int, page_token: str
    ) -> order_pb2.ListOrdersResponse:
        request = order_pb2.ListAllOrdersRequest(
            statuses=[STATUS_CODE[status] for status in statuses],
            query=query,
            page_size=page_size,
            page_token=page_token,
        )
        return await self.call(lambda stub: stub.ListAllOrders(request))

    async def cancel(self, customer_id: str, order_id: str) -> order_pb2.Order:
        request = order_pb2.CancelOrderRequest(customer_id=customer_id, order_id=order_id)
        return await self.call(lambda stub: stub.CancelOrder(request))

    async def void(self, order_id: str, reason: str) -> order_pb2.Order:
        request = order_pb2.VoidOrderRequest(order_id=order_id, reason=reason)
        return await self.call(lambda stub: stub.VoidOrder(request))

    async def refund(self, order_id: str, reason: str) -> order_pb2.Order:
        request = order_pb2.RefundOrderRequest(order_id=order_id, reason=reason)
        return await self.call(lambda stub: stub.RefundOrder(request))

    async def pick_up(self, order_id: str) -> order_pb2.Order:
        request = order_pb2.PickUpOrderRequest(order_id=order_id)
        return await self.call(lambda stub: stub.PickUpOrder(request))


class StockClient(Client["stock_pb2_grpc.StockServiceAsyncStub"]):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__(balancer, stock_pb2_grpc.StockServiceStub)

    async def levels(self, item_ids: Sequence[str]) -> list[stock_pb2.StockLevel]:
        request = stock_pb2.GetLevelsRequest(item_ids=list(item_ids))
        response = await self.call(lambda stub: stub.GetLevels(request))
        return list(response.levels)

    async def set_level(self, item_id: str, on_hand: int) -> stock_pb2.StockLevel:
        request = stock_pb2.SetLevelRequest(item_id=item_id, on_hand=on_hand)
        return await self.call(lambda stub: stub.SetLevel(request))


class PaymentClient(Client["payment_pb2_grpc.PaymentServiceAsyncStub"]):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__(balancer, payment_pb2_grpc.PaymentServiceStub)

    async def stripe_webhook(
        self, payload: bytes, signature: str
    ) -> payment_pb2.HandleStripeWebhookResponse:
        request = payment_pb2.HandleStripeWebhookRequest(
            payload=payload, signature_header=signature
        )
        return await self.call(lambda stub: stub.HandleStripeWebhook(request))

    async def sign_test_completion(self, order_id: str) -> tuple[bytes, str]:
        request = payment_pb2.SignTestCompletionRequest(order_id=order_id)
        response: payment_pb2.SignTestCompletionResponse = await self.call(
            lambda stub: stub.SignTestCompletion(request)
        )
        return response.payload, response.signature_header


@dataclass
class Backends:
    menu: MenuClient
    order: OrderClient
    stock: StockClient
    payment: PaymentClient
    resolve: Resolve
    channels: Channels

    @classmethod
    def connect(
        cls,
        service: Callable[[str], Balancer],
        resolve: Resolve,
        channels: Channels,
        create_order_deadline_seconds: float,
    ) -> Backends:
        return cls(
            MenuClient(service("menu")),
            OrderClient(service("order"), create_order_deadline_seconds),
            StockClient(service("stock")),
            PaymentClient(service("payment")),
            resolve,
            channels,
        )

    async def readiness(self, probe_seconds: float) -> dict[str, str]:
        """Per service: "serving" when an instance Consul calls healthy answers SERVING."""
        names = list(SERVICES)
        states = await asyncio.gather(*(self._probe(name, probe_seconds) for name in names))
        return dict(zip(names, states, strict=True))

    async def _probe(self, name: str, probe_seconds: float) -> str:
        try:
            targets = await self.resolve(name)
        except grpc.aio.AioRpcError:
            return "discovery unavailable"
        if not targets:
            return "no healthy instance"
        state = "not serving"
        for target in targets:
            try:
                async with asyncio.timeout(probe_seconds):
                    status = await grpc_client.check_health(
                        self.channels.get(target), SERVICES[name]
                    )
            except (TimeoutError, grpc.aio.AioRpcError):
                state = "unreachable"
                continue
            if status == "SERVING":
                return "serving"
        return state
