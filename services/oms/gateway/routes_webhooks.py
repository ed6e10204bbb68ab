"""Stripe's webhook, forwarded to Payment untouched: the signature covers the exact bytes."""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Header, Request

from oms.gateway.clients import Backends
from oms.gateway.errors import ApiError, documented
from oms.gateway.ratelimit import TokenBuckets, client_address
from oms.gateway.schemas import WebhookReceived
from oms.limits import MAX_SIGNATURE_HEADER, MAX_WEBHOOK_BYTES

PATH = "/webhooks/stripe"
# The body is documented, not parsed: reading it as JSON would lose the signed bytes.
RAW_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A Stripe event as Stripe sent it, at most {MAX_WEBHOOK_BYTES} bytes.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}


def router(backends: Backends, limit: TokenBuckets) -> APIRouter:
    webhooks = APIRouter(tags=["webhooks"])

    @webhooks.post(PATH, responses=documented(400, 413, 429, 502, 503), openapi_extra=RAW_BODY)
    async def stripe_webhook(
        request: Request,
        stripe_signature: Annotated[str | None, Header(max_length=MAX_SIGNATURE_HEADER)] = None,
    ) -> WebhookReceived:
        """Verify (in Payment) and apply a Stripe event once; a redelivery is `duplicate`.

        A correctly signed event OMS does not act on is answered 200; one that is not a
        Stripe event, or whose amount is not the order's, is answered 400.
        """
        limit.check(client_address(request), "webhook deliveries")
        if not stripe_signature:
            raise ApiError(400, "missing_signature", "the Stripe-Signature header is required")
        payload = await request.body()
        try:
            handled = await backends.payment.stripe_webhook(payload, stripe_signature)
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.UNAUTHENTICATED:
                raise ApiError(400, "bad_signature", exc.details() or "bad signature") from exc
            if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
                raise ApiError(400, "bad_event", exc.details() or "not a Stripe event") from exc
            raise
        return WebhookReceived(duplicate=handled.duplicate)

    return webhooks
