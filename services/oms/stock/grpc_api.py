"""StockService over gRPC: protobuf in, use cases, protobuf out."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import stock_pb2, stock_pb2_grpc
from oms.order_lines import Line
from oms.platform.grpc_server import Api, Contract
from oms.stock.domain import Level, Shortage
from oms.stock.handlers import StockHandlers


def _lines(lines: Any) -> list[Line]:
    return [Line(line.item_id, line.quantity) for line in lines]


def _shortages(shortages: list[Shortage]) -> list[stock_pb2.Shortage]:
    return [
        stock_pb2.Shortage(item_id=s.item_id, requested=s.requested, available=s.available)
        for s in shortages
    ]


def _level(level: Level) -> stock_pb2.StockLevel:
    return stock_pb2.StockLevel(
        item_id=level.item_id,
        on_hand=level.on_hand,
        reserved=level.reserved,
        available=level.available,
    )


class StockApi(Api[StockHandlers], stock_pb2_grpc.StockServiceServicer):
    async def CheckStock(
        self, request: stock_pb2.CheckStockRequest, context: Any
    ) -> stock_pb2.CheckStockResponse:
        shortages = await self.handlers.check(_lines(request.lines))
        return stock_pb2.CheckStockResponse(shortages=_shortages(shortages))

    async def Reserve(
        self, request: stock_pb2.ReserveRequest, context: Any
    ) -> stock_pb2.ReserveResponse:
        shortages = await self.handlers.reserve(request.order_id, _lines(request.lines))
        return stock_pb2.ReserveResponse(reserved=not shortages, shortages=_shortages(shortages))

    async def Release(
        self, request: stock_pb2.ReleaseRequest, context: Any
    ) -> stock_pb2.ReleaseResponse:
        released = await self.handlers.release(request.order_id, request.reason)
        return stock_pb2.ReleaseResponse(released=released)

    async def Commit(
        self, request: stock_pb2.CommitRequest, context: Any
    ) -> stock_pb2.CommitResponse:
        await self.handlers.commit(request.order_id)
        return stock_pb2.CommitResponse(committed=True)

    async def GetLevels(
        self, request: stock_pb2.GetLevelsRequest, context: Any
    ) -> stock_pb2.GetLevelsResponse:
        levels = await self.handlers.levels(list(request.item_ids))
        return stock_pb2.GetLevelsResponse(levels=[_level(level) for level in levels])

    async def SetLevel(
        self, request: stock_pb2.SetLevelRequest, context: Any
    ) -> stock_pb2.StockLevel:
        return _level(await self.handlers.set_on_hand(request.item_id, request.on_hand))


CONTRACT = Contract(stock_pb2.DESCRIPTOR, stock_pb2_grpc.add_StockServiceServicer_to_server)
