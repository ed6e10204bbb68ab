"""The Order service's view of Menu and Stock, over gRPC through Consul."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from oms.contracts.v1 import common_pb2, menu_pb2, menu_pb2_grpc, stock_pb2, stock_pb2_grpc
from oms.order_lines import Line
from oms.platform.grpc_client import Balancer


@dataclass(frozen=True)
class PricedItem:
    id: str
    name: str
    price_minor: int
    currency: str
    offered: bool


class MenuClient:
    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer

    async def items(self, ids: Sequence[str]) -> tuple[dict[str, PricedItem], list[str]]:
        """The known items by id, and the ids Menu does not know."""
        request = menu_pb2.GetItemsRequest(ids=list(ids))
        response = await self.balancer.call(
            lambda channel: menu_pb2_grpc.MenuServiceStub(channel).GetItems(request)
        )
        items = {
            item.id: PricedItem(
                item.id, item.name, item.price.amount_minor, item.price.currency, item.offered
            )
            for item in response.items
        }
        return items, list(response.unknown_ids)


class StockClient:
    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer

    async def reserve(self, order_id: str, lines: Sequence[Line]) -> stock_pb2.ReserveResponse:
        request = stock_pb2.ReserveRequest(
            order_id=order_id,
            lines=[common_pb2.OrderLine(item_id=x.item_id, quantity=x.quantity) for x in lines],
        )
        return await self.balancer.call(
            lambda channel: stock_pb2_grpc.StockServiceStub(channel).Reserve(request)
        )

    async def release(self, order_id: str, reason: str) -> None:
        request = stock_pb2.ReleaseRequest(order_id=order_id, reason=reason)
        await self.balancer.call(
            lambda channel: stock_pb2_grpc.StockServiceStub(channel).Release(request)
        )
