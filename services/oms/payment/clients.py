"""The Payment service's adapter to the Order service, over gRPC through Consul."""

from __future__ import annotations

import grpc

from oms.contracts.v1 import order_pb2, order_pb2_grpc
from oms.payment.handlers import OrderGone
from oms.platform.errors import NotFound
from oms.platform.grpc_client import Balancer, Client


class OrderClient(Client["order_pb2_grpc.OrderServiceAsyncStub"]):
    def __init__(self, balancer: Balancer) -> None:
        super().__init__(balancer, order_pb2_grpc.OrderServiceStub)

    async def attach(self, order_id: str, session_id: str, link: str) -> None:
        """Record the checkout's link on the order (idempotent on the Order side)."""
        request = order_pb2.AttachPaymentRequest(
            order_id=order_id, checkout_session_id=session_id, payment_link=link
        )
        try:
            await self.call(lambda stub: stub.AttachPayment(request))
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.FAILED_PRECONDITION:
                raise OrderGone(exc.details()) from exc
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                raise NotFound(exc.details() or f"no order {order_id}") from exc
            raise
