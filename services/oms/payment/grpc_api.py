"""PaymentService over gRPC: payments by order, and Stripe's webhooks from the gateway."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import payment_pb2, payment_pb2_grpc
from oms.payment.domain import Payment, PaymentStatus
from oms.payment.handlers import PaymentHandlers
from oms.platform.errors import InvalidArgument, NotFound
from oms.platform.protobuf import timestamp

STATUS = {
    PaymentStatus.OPEN: payment_pb2.PAYMENT_STATUS_OPEN,
    PaymentStatus.PAID: payment_pb2.PAYMENT_STATUS_PAID,
    PaymentStatus.EXPIRED: payment_pb2.PAYMENT_STATUS_EXPIRED,
    PaymentStatus.CANCELLED: payment_pb2.PAYMENT_STATUS_CANCELLED,
}
MAX_PAYLOAD = 1 << 20


def to_proto(payment: Payment) -> payment_pb2.Payment:
    proto = payment_pb2.Payment(
        order_id=payment.order_id,
        checkout_session_id=payment.checkout_session_id,
        url=payment.url,
        status=STATUS[payment.status],
    )
    if payment.expires_at is not None:
        proto.expires_at.CopyFrom(timestamp(payment.expires_at))
    return proto


class PaymentApi(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, handlers: PaymentHandlers) -> None:
        self.handlers = handlers

    async def GetPayment(
        self, request: payment_pb2.GetPaymentRequest, context: Any
    ) -> payment_pb2.Payment:
        payment = await self.handlers.repository.get(request.order_id)
        if payment is None or not payment.checkout_session_id:
            raise NotFound(f"no checkout for order {request.order_id!r} yet")
        return to_proto(payment)

    async def HandleStripeWebhook(
        self, request: payment_pb2.HandleStripeWebhookRequest, context: Any
    ) -> payment_pb2.HandleStripeWebhookResponse:
        if len(request.payload) > MAX_PAYLOAD:
            raise InvalidArgument("the webhook payload is larger than 1 MiB")
        outcome = await self.handlers.apply_webhook(request.payload, request.signature_header)
        return payment_pb2.HandleStripeWebhookResponse(
            event_id=outcome.event_id, event_type=outcome.event_type, duplicate=outcome.duplicate
        )
