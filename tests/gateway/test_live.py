"""Live updates over server-sent events: a customer's tracker and the staff's board.

A stream sends a snapshot, then each update Order makes to the order(s) it follows, as they
happen; the order is paid through the local test payment page and the real Kitchen cooks
it. A stream that reconnects with `Last-Event-ID` gets what it missed, without a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import httpx

from devtools.platform import LocalPlatform
from oms.domain_events import EXCHANGE, ORDER_DECISIONS, SUBSCRIPTIONS, DeadlineDue
from tests.gateway.helpers import Customer, SseEvent, sse

LIFECYCLE = ["pending", "awaiting_payment", "paid", "preparing", "ready"]


def _seq(event: SseEvent) -> int:
    return int(event.id.rpartition("-")[2])


def _reached(status: str, *order_ids: str) -> Callable[[SseEvent], bool]:
    """A stream's stop condition: each of `order_ids` (or its one order) reached `status`."""
    waiting = set(order_ids)

    def done(event: SseEvent) -> bool:
        if event.data.get("status") != status:
            return False
        waiting.discard(event.data.get("order_id", ""))
        return not waiting

    return done


async def test_an_orders_stream_sends_a_snapshot_then_its_updates(
    alice: Customer, bob: Customer, stocked_item: str
) -> None:
    order = await alice.place((stocked_item, 1))

    async with sse(alice.http, f"/api/orders/{order['id']}/events") as stream:
        snapshot = await stream.next()
        others = await bob.place((stocked_item, 1))
        await alice.pay(order["id"])
        updates = await stream.until(_reached("ready"))

    assert snapshot.event == "snapshot"
    assert snapshot.data["id"] == order["id"]
    assert snapshot.data["status"] in LIFECYCLE[:2]
    assert {update.event for update in updates} == {"order"}
    assert {update.data["order_id"] for update in updates} == {order["id"]}
    assert others["id"] not in str([update.data for update in updates])
    statuses = [update.data["status"] for update in updates]
    assert statuses == [s for s in LIFECYCLE if s in statuses]  # in order, each once
    assert statuses[-3:] == ["paid", "preparing", "ready"]
    assert [update.data["event"] for update in updates][-1] == "order.ready"
    seqs = [_seq(update) for update in updates]
    assert seqs == sorted(seqs)
    assert seqs[0] > _seq(snapshot)


async def test_a_stream_resumes_from_last_event_id_without_a_snapshot(
    alice: Customer, stocked_item: str
) -> None:
    order = await alice.place((stocked_item, 1))
    path = f"/api/orders/{order['id']}/events"
    async with sse(alice.http, path) as stream:
        await stream.next()
        await alice.pay(order["id"])
        (*_, paid) = await stream.until(_reached("paid"))
    await alice.wait_for(order["id"], "ready")  # while no stream is open

    async with sse(alice.http, path, headers={"Last-Event-ID": paid.id}) as resumed:
        missed = await resumed.until(_reached("ready"))
    async with sse(alice.http, path, headers={"Last-Event-ID": "f00dcafe-1"}) as foreign:
        fresh = await foreign.next()

    assert [(e.event, e.data["status"]) for e in missed] == [
        ("order", "preparing"),
        ("order", "ready"),
    ]
    assert _seq(missed[0]) > _seq(paid)
    assert (fresh.event, fresh.data["status"]) == ("snapshot", "ready")


async def test_the_staff_stream_sees_every_orders_updates(
    admin: httpx.AsyncClient, alice: Customer, bob: Customer, stocked_item: str
) -> None:
    waiting = await alice.place((stocked_item, 1))

    async with sse(admin, "/api/admin/events") as board:
        snapshot = await board.next()
        first = await alice.place((stocked_item, 1))
        second = await bob.place((stocked_item, 2))
        await alice.pay(first["id"])
        await bob.pay(second["id"])
        seen = await board.until(_reached("ready", first["id"], second["id"]))
        last = seen[-1]
    await alice.http.post(f"/api/orders/{waiting['id']}/cancel")
    async with sse(admin, "/api/admin/events", headers={"Last-Event-ID": last.id}) as resumed:
        after = await resumed.until(_reached("cancelled", waiting["id"]))

    assert snapshot.event == "snapshot"
    assert waiting["id"] in {o["id"] for o in snapshot.data["orders"]}
    assert {o["status"] for o in snapshot.data["orders"]} <= set(LIFECYCLE)
    for placed in (first, second):
        statuses = [e.data["status"] for e in seen if e.data["order_id"] == placed["id"]]
        assert statuses[-3:] == ["paid", "preparing", "ready"], statuses
    customers = {e.data["order_id"]: e.data["customer_id"] for e in seen}
    assert customers[first["id"]] == alice.customer_id
    assert customers[second["id"]] == bob.customer_id
    assert {e.event for e in after} == {"order"}  # resumed: no second snapshot


async def test_the_screens_queue_takes_orders_decisions_and_not_orders_timers(
    platform: LocalPlatform,
) -> None:
    """Order's timers (`order.deadline_due`, two per order) would reach every gateway only
    to be dropped: the gateway's own queue is bound to each of Order's decisions instead."""
    vhost, exchange = quote(platform.vhost, safe=""), quote(EXCHANGE, safe="")
    url = f"{platform.rabbitmq.management_url}/api/exchanges/{vhost}/{exchange}/bindings/source"
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as http:
        response = await http.get(url)
    response.raise_for_status()
    # A follower's queue is none of the services' durable queues; the menu caches follow
    # menu.* with theirs.
    durable = {subscription.queue for subscription in SUBSCRIPTIONS}
    followed = {
        binding["routing_key"]
        for binding in response.json()
        if binding["destination"] not in durable and binding["routing_key"].startswith("order.")
    }
    assert followed == set(ORDER_DECISIONS)
    assert DeadlineDue.ROUTING_KEY not in followed
    assert {"order.placed", "order.ready", "order.cancelled"} <= followed
