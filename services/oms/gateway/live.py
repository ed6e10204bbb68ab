"""Live updates for the screens: Order's decisions, fanned out to every open stream.

The gateway follows each of Order's decisions (`events.ORDER_DECISIONS`: not Order's own
timers) with a queue of its own (`oms.platform.follower`), keeps the latest few thousand in
a ring, and hands each to the streams that want it: a customer's tracker wants one order,
the kitchen display and the staff board want all. So 500 open screens cost one queue and no
database query; a screen reads a snapshot once when it connects. Each update carries an id
`<boot>-<seq>`: a screen that reconnects with `Last-Event-ID` from this process gets what it
missed from the ring, and one from another process (or too old for the ring) gets a fresh
snapshot instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from oms.platform import logs
from oms.platform.events import Event

log = logs.get(__name__)


def sse(event_id: str, event: str, body: Any) -> dict[str, str]:
    """A server-sent event as sse-starlette sends it, its body as JSON."""
    return {"id": event_id, "event": event, "data": orjson.dumps(body).decode()}


@dataclass(frozen=True)
class Update:
    """An order event as every stream sends it: serialised once, however many streams want it."""

    seq: int
    order_id: str
    message: dict[str, str]


class Subscription:
    """One stream's queue; a stream too slow to keep up is closed (it reconnects)."""

    def __init__(self, order_id: str | None, size: int) -> None:
        self.order_id = order_id
        self.queue: asyncio.Queue[Update | None] = asyncio.Queue(size)

    def offer(self, update: Update) -> bool:
        try:
            self.queue.put_nowait(update)
        except asyncio.QueueFull:
            return False
        return True

    async def updates(self) -> AsyncIterator[Update]:
        while (update := await self.queue.get()) is not None:
            yield update


class LiveFeed:
    def __init__(self, ring_size: int = 5000, queue_size: int = 256) -> None:
        self.boot = secrets.token_hex(4)
        self.queue_size = queue_size
        self._ring: deque[Update] = deque(maxlen=ring_size)
        self._seq = itertools.count(1)
        # By the order they want (None: every order), so an update visits only its streams.
        self._subscriptions: dict[str | None, set[Subscription]] = {}

    @property
    def subscribers(self) -> int:
        return sum(len(group) for group in self._subscriptions.values())

    def position(self) -> str:
        """The id of the newest update, for a snapshot: resuming from it misses nothing."""
        return f"{self.boot}-{self._ring[-1].seq if self._ring else 0}"

    async def on_event(self, event: Event) -> None:
        """The follower's handler: every decision of Order's becomes one update."""
        data = {key: value for key, value in event.data.items() if key in SHOWN}
        data["event"] = event.type
        data["at"] = event.occurred_at.isoformat()
        seq = next(self._seq)
        order_id = str(data.get("order_id", ""))
        update = Update(seq, order_id, sse(f"{self.boot}-{seq}", "order", data))
        self._ring.append(update)
        wanting = [
            *self._subscriptions.get(update.order_id, ()),
            *self._subscriptions.get(None, ()),
        ]
        for subscription in wanting:
            if not subscription.offer(update):
                log.info("live.slow_subscriber_closed", order_id=subscription.order_id)
                self._close(subscription)

    def missed(self, last_event_id: str, order_id: str | None) -> list[Update] | None:
        """What a stream missed since `last_event_id`; None when the ring cannot say."""
        boot, _, seq_text = last_event_id.partition("-")
        if boot != self.boot or not seq_text.isdigit():
            return None
        seq = int(seq_text)
        if self._ring and self._ring[0].seq > seq + 1:
            return None  # some of it fell out of the ring
        # From the newest back: a stream opening now missed a few updates, not the ring.
        newer: list[Update] = []
        for update in reversed(self._ring):
            if update.seq <= seq:
                break
            if order_id in (None, update.order_id):
                newer.append(update)
        newer.reverse()
        return newer

    @contextlib.contextmanager
    def subscribe(self, order_id: str | None = None) -> Any:
        subscription = Subscription(order_id, self.queue_size)
        self._subscriptions.setdefault(order_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            self._discard(subscription)

    def _discard(self, subscription: Subscription) -> None:
        group = self._subscriptions.get(subscription.order_id)
        if group is not None:
            group.discard(subscription)
            if not group:
                del self._subscriptions[subscription.order_id]

    def _close(self, subscription: Subscription) -> None:
        self._discard(subscription)
        with contextlib.suppress(asyncio.QueueFull):
            subscription.queue.put_nowait(None)

    def close_all(self) -> None:
        for group in list(self._subscriptions.values()):
            for subscription in list(group):
                self._close(subscription)


# What a screen is told of an order event: never its access token.
SHOWN = frozenset(
    {
        "order_id",
        "customer_id",
        "status",
        "step",
        "payment_link",
        "checkout_session_id",
        "lines",
        "cook",
        "reason",
        "by",
        "stock",
        "total_minor",
        "currency",
    }
)
