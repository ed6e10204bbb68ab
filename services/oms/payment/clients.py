"""The Payment service's view of the Order service, over gRPC through Consul."""

from __future__ import annotations

from datetime import datetime

from oms.contracts.v1 import order_pb2, order_pb2_grpc
from oms.platform.grpc_client import Balancer
from oms.platform.protobuf import timestamp


class OrderClient:
    def __init__(self, balancer: Balancer) -> None:
        self.balancer = balancer

    async def attach_payment(
        self, order_id: str, session_id: str, link: str, expires_at: datetime | None
    ) -> None:
        """Record the payment link on the order (idempotent on the Order side)."""
        request = order_pb2.AttachPaymentRequest(
            order_id=order_id, checkout_session_id=session_id, payment_link=link
        )
        if expires_at is not None:
            request.expires_at.CopyFrom(timestamp(expires_at))
        await self.balancer.call(
            lambda channel: order_pb2_grpc.OrderServiceStub(channel).AttachPayment(request)
        )
