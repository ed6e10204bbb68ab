"""The gateway's ring of Order's decisions: what a stream missed since an update's id, for one
order or for all; None when the ring cannot tell (another gateway process, or too old)."""

from __future__ import annotations

import orjson

from oms.gateway.live import LiveFeed, Update
from oms.platform.events import Event


async def _decide(feed: LiveFeed, order_id: str, status: str) -> str:
    """Order decides `status` for `order_id`; the id of the update it became."""
    await feed.on_event(Event(type=f"order.{status}", data={"order_id": order_id}))
    return feed.position()


def _statuses(updates: list[Update] | None) -> list[tuple[str, str]]:
    """(order, event type) of each update, as its stream sends it."""
    assert updates is not None
    return [(u.order_id, orjson.loads(u.message["data"])["event"]) for u in updates]


async def test_a_stream_gets_what_came_after_its_last_id_for_its_order_in_order() -> None:
    feed = LiveFeed(ring_size=100)
    await _decide(feed, "o-1", "placed")
    last_seen = await _decide(feed, "o-2", "placed")
    await _decide(feed, "o-1", "paid")
    await _decide(feed, "o-2", "paid")
    await _decide(feed, "o-1", "ready")

    assert _statuses(feed.missed(last_seen, "o-1")) == [
        ("o-1", "order.paid"),
        ("o-1", "order.ready"),
    ]
    assert _statuses(feed.missed(last_seen, None)) == [
        ("o-1", "order.paid"),
        ("o-2", "order.paid"),
        ("o-1", "order.ready"),
    ]
    assert feed.missed(feed.position(), None) == []


async def test_the_ring_cannot_tell_another_process_or_what_fell_out_of_it() -> None:
    feed = LiveFeed(ring_size=3)
    first = await _decide(feed, "o-1", "placed")
    for status in ("awaiting_payment", "paid", "preparing", "ready"):
        await _decide(feed, "o-1", status)

    assert feed.missed(first, "o-1") is None  # "awaiting_payment" fell out of the ring
    assert feed.missed("other-7", "o-1") is None
    assert feed.missed(f"{feed.boot}-x", "o-1") is None
    newest_but_two = f"{feed.boot}-{int(feed.position().rsplit('-', 1)[1]) - 2}"
    assert _statuses(feed.missed(newest_but_two, "o-1")) == [
        ("o-1", "order.preparing"),
        ("o-1", "order.ready"),
    ]
