"""PaymentService over real gRPC: what the gateway and Order get back, and the status codes
of refusals (a forged webhook is UNAUTHENTICATED, a malformed one INVALID_ARGUMENT)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import grpc
import pytest

from devtools import stripe_webhooks
from oms.contracts.v1 import payment_pb2, payment_pb2_grpc
from oms.payment.grpc_api import PaymentApi
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import GrpcSettings
from tests.payment.conftest import SECRET, PaymentWorld


@pytest.fixture
async def payment(world: PaymentWorld) -> AsyncIterator[payment_pb2_grpc.PaymentServiceAsyncStub]:
    server = GrpcServer(GrpcSettings(port=0), service_names=[])
    payment_pb2_grpc.add_PaymentServiceServicer_to_server(PaymentApi(world.handlers), server.server)
    await server.start()
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield payment_pb2_grpc.PaymentServiceStub(channel)
    await server.server.stop(0)


def _webhook(payload: bytes, header: str) -> payment_pb2.HandleStripeWebhookRequest:
    return payment_pb2.HandleStripeWebhookRequest(payload=payload, signature_header=header)


async def test_a_payment_and_a_webhook_as_callers_see_them(
    world: PaymentWorld, payment: payment_pb2_grpc.PaymentServiceAsyncStub
) -> None:
    placed, opened = await world.opened()
    event = world.paid_event(placed, opened)
    payload, header = stripe_webhooks.delivery(event, SECRET)

    before = await payment.GetPayment(payment_pb2.GetPaymentRequest(order_id=placed.order_id))
    applied = await payment.HandleStripeWebhook(_webhook(payload, header))
    repeated = await payment.HandleStripeWebhook(_webhook(payload, header))
    closing = await payment.CloseCheckout(
        payment_pb2.CloseCheckoutRequest(order_id=placed.order_id)
    )

    assert (before.status, before.checkout_session_id) == (
        payment_pb2.PAYMENT_STATUS_OPEN,
        opened.checkout_session_id,
    )
    assert (before.amount_minor, before.currency, before.url) == (1900, "EUR", opened.url)
    assert before.expires_at.seconds == int(placed.checkout_expires_at.timestamp())
    assert (applied.event_id, applied.duplicate, repeated.duplicate) == (event["id"], False, True)
    assert closing.outcome == payment_pb2.CLOSE_OUTCOME_ALREADY_PAID


async def test_refusals_have_their_status_codes(
    world: PaymentWorld, payment: payment_pb2_grpc.PaymentServiceAsyncStub
) -> None:
    placed = await world.placed()
    body = b"[]"
    refusals: list[tuple[Awaitable[object], grpc.StatusCode]] = [
        (payment.HandleStripeWebhook(_webhook(body, "")), grpc.StatusCode.UNAUTHENTICATED),
        (
            payment.HandleStripeWebhook(_webhook(body, stripe_webhooks.sign(body, "whsec_x"))),
            grpc.StatusCode.UNAUTHENTICATED,
        ),
        (
            payment.HandleStripeWebhook(_webhook(body, stripe_webhooks.sign(body, SECRET))),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            payment.CloseCheckout(payment_pb2.CloseCheckoutRequest()),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            payment.GetPayment(payment_pb2.GetPaymentRequest(order_id=placed.order_id)),
            grpc.StatusCode.NOT_FOUND,
        ),
        (
            payment.SignTestCompletion(
                payment_pb2.SignTestCompletionRequest(order_id=placed.order_id)
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ]

    for call, code in refusals:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() is code
        assert refused.value.details()
