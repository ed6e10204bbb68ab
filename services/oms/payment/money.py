"""Payment's moves that report money to Order: `payment.captured`, `payment.failed` and
`payment.refunded`.

Each is a compare-and-set from the states its status may be entered from, with its event
staged in the same write, inside a span of the order's own trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from opentelemetry import propagate, trace

from oms import domain_events as events
from oms.payment.domain import ENTERED_FROM, Payment, PaymentStatus
from oms.payment.repository import PaymentRepository
from oms.platform import logs

log = logs.get(__name__)
tracer = trace.get_tracer(__name__)


async def move(
    repository: PaymentRepository,
    payment: Payment,
    to: PaymentStatus,
    reported: events.Payload,
    fields: dict[str, Any] | None = None,
    stripe_event: str = "",
) -> bool:
    """Move the payment to `to`, staging `reported`; False when it was not in a state `to`
    may be entered from (another move came first)."""
    with _order_trace(payment, f"payment {to}"):
        moved = await repository.transition(
            payment.order_id,
            to,
            ENTERED_FROM[to],
            [reported.to_event()],
            fields,
            stripe_event=stripe_event,
        )
    return moved is not None


async def capture(
    repository: PaymentRepository, payment: Payment, intent: str, stripe_event: str
) -> bool:
    """The money arrived: reported by a webhook, or found when the checkout was closed."""
    captured = events.PaymentCaptured(
        order_id=payment.order_id,
        checkout_session_id=payment.checkout_session_id,
        amount_minor=payment.amount_minor,
        currency=payment.currency,
    )
    fields = {"payment_intent": intent}
    moved = await move(repository, payment, PaymentStatus.CAPTURED, captured, fields, stripe_event)
    if moved:
        log.info("payment.captured", order_id=payment.order_id)
    return moved


@contextmanager
def _order_trace(payment: Payment, name: str) -> Iterator[None]:
    """A span in the order's own trace, linked to the webhook (or call) that caused it.

    So one trace follows an order from its placement to the kitchen pass, though Stripe's
    webhook arrives as a request of its own.
    """
    cause = trace.get_current_span().get_span_context()
    links = [trace.Link(cause)] if cause.is_valid else []
    parent = propagate.extract(payment.trace_headers)
    with tracer.start_as_current_span(name, context=parent, links=links):
        yield
