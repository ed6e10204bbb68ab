"""A test double of our Payment service: `PaymentService` on a real gRPC server.

It implements `HandleStripeWebhook` the way the contract says (verify the Stripe-Signature
with stripe-python, UNAUTHENTICATED when it does not verify, INVALID_ARGUMENT for a payload
that is not an event, `duplicate` for an event id seen before), records what it received,
and misbehaves on purpose for a few test event types, so the gateway's error mapping and
draining can be seen at a real network boundary. It runs on a real grpc.aio server with the
health service, registered in the real Consul under "payment". The real Payment service
behind the real gateway is exercised by tests/e2e.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import grpc
import stripe

from oms.contracts.v1 import payment_pb2, payment_pb2_grpc

SERVICE_NAME = payment_pb2.DESCRIPTOR.services_by_name["PaymentService"].full_name
SLOW = "test.slow"  # answers after `slow_seconds`
CRASH = "test.crash"  # raises: the server answers UNKNOWN with a message the client must not see
SECRET_DETAIL = "database password is hunter2"


class PaymentDouble(payment_pb2_grpc.PaymentServiceServicer):
    def __init__(self, webhook_secret: str) -> None:
        self.webhook_secret = webhook_secret
        self.received: list[tuple[bytes, str]] = []
        self.seen: set[str] = set()
        self.slow_seconds = 1.0

    async def GetPayment(
        self, request: payment_pb2.GetPaymentRequest, context: Any
    ) -> payment_pb2.Payment:
        await context.abort(grpc.StatusCode.NOT_FOUND, "the gateway does not ask for payments")
        raise AssertionError("unreachable")

    async def HandleStripeWebhook(
        self, request: payment_pb2.HandleStripeWebhookRequest, context: Any
    ) -> payment_pb2.HandleStripeWebhookResponse:
        self.received.append((request.payload, request.signature_header))
        try:
            stripe.WebhookSignature.verify_header(
                request.payload, request.signature_header, self.webhook_secret, tolerance=300
            )
        except stripe.SignatureVerificationError as exc:
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, f"signature: {exc}")
        try:
            event = json.loads(request.payload)
            event_id, event_type = str(event["id"]), str(event["type"])
        except (ValueError, TypeError, KeyError):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "not a Stripe event")
        if event_type == SLOW:
            await asyncio.sleep(self.slow_seconds)
        if event_type == CRASH:
            raise RuntimeError(SECRET_DETAIL)
        duplicate = event_id in self.seen
        self.seen.add(event_id)
        return payment_pb2.HandleStripeWebhookResponse(
            event_id=event_id, event_type=event_type, duplicate=duplicate
        )
