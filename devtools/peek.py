"""Read-only looks into a running platform, below the gateway: what Payment and the kitchen
say through their own gRPC contracts, and what Stock's database holds.

Tests check what the public API cannot show (the state of a payment, a ticket, a reservation)
with these; nothing here changes anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import grpc
from pymongo import AsyncMongoClient

from devtools.platform import LocalPlatform, ServiceProcess
from oms.contracts.v1 import kitchen_pb2, kitchen_pb2_grpc, payment_pb2, payment_pb2_grpc

PAYMENT_STATUS: dict[int, str] = {
    payment_pb2.PAYMENT_STATUS_OPEN: "open",
    payment_pb2.PAYMENT_STATUS_PAID: "captured",
    payment_pb2.PAYMENT_STATUS_EXPIRED: "failed",
    payment_pb2.PAYMENT_STATUS_CANCELLED: "closed",
    payment_pb2.PAYMENT_STATUS_REFUNDED: "refunded",
}
TICKET_STATUS: dict[int, str] = {
    kitchen_pb2.TICKET_STATUS_PREPARING: "cooking",
    kitchen_pb2.TICKET_STATUS_READY: "cooked",
    kitchen_pb2.TICKET_STATUS_VOIDED: "voided",
}


class _Recorded(Protocol):
    @property
    def status(self) -> int: ...


M = TypeVar("M", bound=_Recorded)


@dataclass(frozen=True)
class _Lookup(Generic[M]):
    """What one service records about an order, asked through its own contract."""

    service: str
    get: Callable[[grpc.aio.Channel, str], Awaitable[M]]
    statuses: Mapping[int, str]

    async def find(self, platform: LocalPlatform, order_id: str) -> M | None:
        """The service's record of the order; None while it has none (NOT_FOUND)."""
        async with platform.channel(platform.process(self.service)) as channel:
            try:
                return await self.get(channel, order_id)
            except grpc.aio.AioRpcError as exc:
                if exc.code() is grpc.StatusCode.NOT_FOUND:
                    return None
                raise

    async def status(self, platform: LocalPlatform, order_id: str) -> str | None:
        found = await self.find(platform, order_id)
        return None if found is None else self.statuses[found.status]


_PAYMENTS = _Lookup(
    "payment",
    lambda channel, order_id: payment_pb2_grpc.PaymentServiceStub(channel).GetPayment(
        payment_pb2.GetPaymentRequest(order_id=order_id), timeout=10
    ),
    PAYMENT_STATUS,
)
_TICKETS = _Lookup(
    "kitchen",
    lambda channel, order_id: kitchen_pb2_grpc.KitchenServiceStub(channel).GetTicket(
        kitchen_pb2.GetTicketRequest(order_id=order_id), timeout=10
    ),
    TICKET_STATUS,
)
# The order's payment as Payment reports it: None before a checkout exists.
payment, payment_status = _PAYMENTS.find, _PAYMENTS.status
# The order's kitchen ticket: None while no cook has seen the order.
ticket, ticket_status = _TICKETS.find, _TICKETS.status


async def cooking(platform: LocalPlatform, process: ServiceProcess) -> list[str]:
    """The orders one kitchen process's cooks are cooking now."""
    async with platform.channel(process) as channel:
        stub = kitchen_pb2_grpc.KitchenServiceStub(channel)
        status = await stub.GetStatus(kitchen_pb2.GetStatusRequest(), timeout=10)
    return list(status.cooking_order_ids)


@dataclass(frozen=True)
class StockBook:
    """Stock's own records: each item's counters and each order's reservation."""

    items: dict[str, dict[str, int]]  # item -> {"on_hand", "available"}
    reservations: dict[str, dict[str, Any]]  # order -> {"state", "lines": {item: quantity}}

    def held(self, item_id: str, states: frozenset[str]) -> int:
        """Units of `item_id` in reservations whose state is one of `states`."""
        return sum(
            r["lines"].get(item_id, 0) for r in self.reservations.values() if r["state"] in states
        )


async def stock_book(platform: LocalPlatform) -> StockBook:
    """Read Stock's database directly (read-only): every item and every reservation."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        platform.base_env["MONGODB_URL"], serverSelectionTimeoutMS=10_000
    )
    try:
        db = client[platform.database_name("stock")]
        items = {
            doc["_id"]: {
                "on_hand": doc["stock"]["on_hand"],
                "available": doc["stock"]["available"],
            }
            async for doc in db.stock_items.find({}, {"stock": 1})
        }
        reservations = {
            doc["_id"]: {
                "state": doc["state"]["status"],
                "lines": {line["item_id"]: line["quantity"] for line in doc["lines"]},
            }
            async for doc in db.stock_reservations.find({})
        }
    finally:
        await client.close()
    return StockBook(items, reservations)
