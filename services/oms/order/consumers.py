"""The events Order consumes, each routed to the reaction that applies it."""

from __future__ import annotations

from oms import domain_events as events
from oms.order.reactions import OrderReactions
from oms.platform.consumer import Handlers


def payments(reactions: OrderReactions) -> Handlers:
    return dict(
        [
            events.route(events.PaymentCaptured, reactions.payment_captured),
            events.route(events.PaymentFailed, reactions.payment_failed),
            events.route(events.PaymentRefunded, reactions.payment_refunded),
        ]
    )


def kitchen(reactions: OrderReactions) -> Handlers:
    return dict(
        [
            events.route(events.TicketStarted, reactions.ticket_started),
            events.route(events.TicketReady, reactions.ticket_ready),
            events.route(events.TicketVoided, reactions.ticket_voided),
        ]
    )


def deadlines(reactions: OrderReactions) -> Handlers:
    return dict([events.route(events.DeadlineDue, reactions.deadline_due)])
