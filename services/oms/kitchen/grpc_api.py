"""KitchenService over gRPC: what the cooks are doing, and each order's ticket."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import kitchen_pb2, kitchen_pb2_grpc
from oms.kitchen.domain import Ticket, TicketStatus
from oms.kitchen.handlers import Kitchen
from oms.platform.grpc_server import Api, Contract
from oms.platform.protobuf import optional_timestamp, timestamp

# By hand: the proto names what a caller sees (preparing, ready), not the kitchen's states.
STATUS = {
    TicketStatus.COOKING: kitchen_pb2.TICKET_STATUS_PREPARING,
    TicketStatus.COOKED: kitchen_pb2.TICKET_STATUS_READY,
    TicketStatus.VOIDED: kitchen_pb2.TICKET_STATUS_VOIDED,
}


def to_proto(ticket: Ticket) -> kitchen_pb2.Ticket:
    return kitchen_pb2.Ticket(
        order_id=ticket.order_id,
        status=STATUS[ticket.status],
        worker=ticket.cook,
        started_at=timestamp(ticket.started_at),
        finished_at=optional_timestamp(ticket.finished_at),
        attempts=ticket.attempts,
    )


class KitchenApi(Api[Kitchen], kitchen_pb2_grpc.KitchenServiceServicer):
    async def GetStatus(
        self, request: kitchen_pb2.GetStatusRequest, context: Any
    ) -> kitchen_pb2.KitchenStatus:
        status = self.handlers.status()
        return kitchen_pb2.KitchenStatus(
            workers=status.workers,
            busy_workers=len(status.busy),
            cooking_order_ids=sorted(status.busy.values()),
        )

    async def GetTicket(
        self, request: kitchen_pb2.GetTicketRequest, context: Any
    ) -> kitchen_pb2.Ticket:
        return to_proto(await self.handlers.ticket(request.order_id))


CONTRACT = Contract(kitchen_pb2.DESCRIPTOR, kitchen_pb2_grpc.add_KitchenServiceServicer_to_server)
