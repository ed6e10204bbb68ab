"""Server-sent events: an order's tracker, and the live view staff screens share.

A stream sends a snapshot first, then every update, with a heartbeat comment so proxies keep
it open. Reconnecting with `Last-Event-ID` resumes from the gateway's ring when it can, and
sends a fresh snapshot when it cannot (see `oms.gateway.live`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from oms.gateway.auth import StaffAuth
from oms.gateway.clients import Backends
from oms.gateway.errors import documented
from oms.gateway.live import LiveFeed, sse
from oms.gateway.params import OR_TRACKING_LINK, LastEventId, OrderId, TrackingToken
from oms.gateway.schemas import CustomerOrder, Order, OrderStatus
from oms.gateway.sessions import Sessions, require
from oms.limits import MAX_PAGE_SIZE

ACTIVE: tuple[OrderStatus, ...] = ("pending", "awaiting_payment", "paid", "preparing", "ready")
SSE = {
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
    "description": "Server-sent events: a `snapshot` first (unless resuming), then each "
    "`order` update, each with an id to resume from (`Last-Event-ID`)",
}


def router(
    backends: Backends, sessions: Sessions, staff: StaffAuth, feed: LiveFeed, heartbeat: float
) -> APIRouter:
    live = APIRouter(tags=["live"])

    @live.get(
        "/api/orders/{order_id}/events",
        responses={200: SSE, **documented(401, 404, 502, 503)},
        response_class=EventSourceResponse,
        openapi_extra=OR_TRACKING_LINK,
    )
    async def order_events(
        *,
        customer_id: str | None = sessions.optional(),
        order_id: OrderId,
        t: TrackingToken = "",
        last_event_id: LastEventId = "",
    ) -> EventSourceResponse:
        """The order's updates as they happen: its tracker needs no reload."""
        owner = "" if t else require(customer_id)
        position = feed.position()  # taken before the read: nothing after it is missed
        order = await backends.order.get(order_id, owner, t)  # a 404 before the stream opens
        snapshot = CustomerOrder.owned(order).model_dump(mode="json")

        async def stream() -> AsyncIterator[dict[str, Any]]:
            with feed.subscribe(order_id) as subscription:
                resumed = feed.missed(last_event_id, order_id) if last_event_id else None
                if resumed is None:
                    yield sse(position, "snapshot", snapshot)
                    # What came between the read and the subscription (duplicates of what
                    # the snapshot shows are harmless: screens keep the highest step).
                    resumed = feed.missed(position, order_id)
                    if resumed is None:  # a burst pushed it out of the ring: read again
                        fresh = await backends.order.get(order_id, owner, t)
                        body = CustomerOrder.owned(fresh).model_dump(mode="json")
                        yield sse(feed.position(), "snapshot", body)
                        resumed = []
                sent = 0
                for update in resumed:
                    sent = update.seq
                    yield update.message
                async for update in subscription.updates():
                    if update.seq > sent:  # the ring and the queue may both hold it
                        yield update.message

        return EventSourceResponse(stream(), ping=heartbeat)

    @live.get(
        "/api/admin/events",
        dependencies=[staff.required()],
        responses={200: SSE, **documented(401, 403, 502, 503)},
        response_class=EventSourceResponse,
    )
    async def staff_events(last_event_id: LastEventId = "") -> EventSourceResponse:
        """Every order's updates (the kitchen display and the staff board), after a snapshot
        of the orders still in progress."""

        async def stream() -> AsyncIterator[dict[str, Any]]:
            with feed.subscribe() as subscription:
                missed = feed.missed(last_event_id, None) if last_event_id else None
                if missed is None:
                    page = await backends.order.list_all(ACTIVE, "", MAX_PAGE_SIZE, "")
                    orders = [Order.from_proto(o).model_dump(mode="json") for o in page.orders]
                    yield sse(feed.position(), "snapshot", {"orders": orders})
                else:
                    for update in missed:
                        yield update.message
                async for update in subscription.updates():
                    yield update.message

        return EventSourceResponse(stream(), ping=heartbeat)

    return live
