"""PaymentService over gRPC: payments by order, closing checkouts, and Stripe's webhooks."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import payment_pb2, payment_pb2_grpc
from oms.limits import MAX_WEBHOOK_BYTES
from oms.payment.domain import Payment, PaymentStatus
from oms.payment.handlers import CloseOutcome, PaymentHandlers
from oms.platform.errors import InvalidArgument
from oms.platform.grpc_server import Api, Contract
from oms.platform.protobuf import enum_values, optional_timestamp

# By hand: the proto names what a caller sees (a captured payment is paid), not our states.
STATUS = {
    PaymentStatus.OPEN: payment_pb2.PAYMENT_STATUS_OPEN,
    PaymentStatus.CAPTURED: payment_pb2.PAYMENT_STATUS_PAID,
    PaymentStatus.FAILED: payment_pb2.PAYMENT_STATUS_EXPIRED,
    PaymentStatus.CLOSED: payment_pb2.PAYMENT_STATUS_CANCELLED,
    PaymentStatus.REFUNDED: payment_pb2.PAYMENT_STATUS_REFUNDED,
}
OUTCOME = enum_values(CloseOutcome, payment_pb2.CloseOutcome, "CLOSE_OUTCOME_")


def to_proto(payment: Payment) -> payment_pb2.Payment:
    return payment_pb2.Payment(
        order_id=payment.order_id,
        checkout_session_id=payment.checkout_session_id,
        url=payment.url,
        status=STATUS[payment.status],
        amount_minor=payment.amount_minor,
        currency=payment.currency,
        refund_id=payment.refund_id,
        expires_at=optional_timestamp(payment.expires_at),
    )


class PaymentApi(Api[PaymentHandlers], payment_pb2_grpc.PaymentServiceServicer):
    async def GetPayment(
        self, request: payment_pb2.GetPaymentRequest, context: Any
    ) -> payment_pb2.Payment:
        return to_proto(await self.handlers.checkout(request.order_id))

    async def CloseCheckout(
        self, request: payment_pb2.CloseCheckoutRequest, context: Any
    ) -> payment_pb2.CloseCheckoutResponse:
        if not request.order_id:
            raise InvalidArgument("order_id is required")
        outcome = await self.handlers.close_checkout(request.order_id)
        return payment_pb2.CloseCheckoutResponse(outcome=OUTCOME[outcome])

    async def HandleStripeWebhook(
        self, request: payment_pb2.HandleStripeWebhookRequest, context: Any
    ) -> payment_pb2.HandleStripeWebhookResponse:
        if len(request.payload) > MAX_WEBHOOK_BYTES:
            raise InvalidArgument("the webhook payload is larger than 1 MiB")
        outcome = await self.handlers.apply_webhook(request.payload, request.signature_header)
        return payment_pb2.HandleStripeWebhookResponse(
            event_id=outcome.event_id, event_type=outcome.event_type, duplicate=outcome.duplicate
        )

    async def SignTestCompletion(
        self, request: payment_pb2.SignTestCompletionRequest, context: Any
    ) -> payment_pb2.SignTestCompletionResponse:
        payload, header = await self.handlers.sign_test_completion(request.order_id)
        return payment_pb2.SignTestCompletionResponse(payload=payload, signature_header=header)


CONTRACT = Contract(payment_pb2.DESCRIPTOR, payment_pb2_grpc.add_PaymentServiceServicer_to_server)
