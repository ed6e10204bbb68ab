"""What one order costs in round trips, from the menu to the kitchen pass: the MongoDB commands
(PyMongo's command monitoring, as each service exports it) and the events published. A budget
that is exceeded fails the test, so a change that adds a round trip says so.

One customer orders, follows the order's live updates, pays (Stripe's signed webhook), and the
kitchen cooks it (cook time 0). The count ends once every service is done with the order: its
outbox entries cleared and Stock's in-flight markers gone. Background work that is not the
order's (readiness pings, outbox sweeps, menu reloads) is kept out of the window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator

import orjson
import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from devtools import metrics
from devtools.platform import LocalPlatform
from oms.platform import mongo
from tests.e2e.conftest import Customer, Json, Shop, eventually, shop_of

pytestmark = pytest.mark.timeout(180)
# service -> command -> at most this many, for one order's whole life (two lines).
# Order's, Payment's and the kitchen's `update`s are outbox clears only. A confirmed entry
# leaves with its document's next change when that comes within a second (no write of its
# own), so an unhurried run needs one each; the budget allows one per event, as when every
# step takes longer than that.
COMMANDS = {
    "order": {"insert": 1, "findAndModify": 4, "find": 1, "update": 5},
    "payment": {"insert": 1, "find": 1, "findAndModify": 1, "update": 1},
    "stock": {"insert": 1, "findAndModify": 1, "update": 5},
    "kitchen": {"insert": 1, "findAndModify": 1, "update": 2},
}
EVENTS = {
    "order.placed": 1,
    "order.deadline_due": 2,  # placement's timer, and the kitchen-start deadline's
    "order.awaiting_payment": 1,
    "payment.captured": 1,
    "order.confirmed": 1,
    "kitchen.ticket_started": 1,
    "order.preparing": 1,
    "kitchen.ticket_ready": 1,
    "order.ready": 1,
}


async def test_an_orders_whole_life_stays_within_its_round_trip_budget(
    quiet_platform: LocalPlatform,
) -> None:
    async with shop_of(quiet_platform) as shop:
        dishes = [await shop.new_item(on_hand=10), await shop.new_item(on_hand=10)]
        customer = await shop.customer()
        await _life(shop, customer, dishes)  # warms the caches and connections first

        before = await _counts(quiet_platform)
        await _life(shop, customer, dishes)
        after = await _counts(quiet_platform)

    commands, events = after[0] - before[0], after[1] - before[1]
    spent = {
        service: {c: int(n) for (s, c), n in sorted(commands.items()) if s == service}
        for service in COMMANDS
    }
    print(f"round trips of one order: {spent}, events {dict(sorted(events.items()))}")
    over = {
        f"{service} {command}": (count, COMMANDS[service].get(command, 0))
        for service, used in spent.items()
        for command, count in used.items()
        if count > COMMANDS[service].get(command, 0)
    }
    assert not over, f"over budget (spent, budget): {over}"
    assert {k: int(v) for k, v in events.items() if v} == EVENTS
    assert sum(commands.values()) <= sum(sum(b.values()) for b in COMMANDS.values())


async def _life(shop: Shop, customer: Customer, dishes: list[str]) -> None:
    created = await shop.order(customer, [(dishes[0], 1), (dishes[1], 2)])
    assert created.status_code == 201, created.text
    order_id = created.json()["id"]
    url = f"/api/orders/{order_id}/events"
    # One stream for the whole life, as the tracker page keeps one open.
    async with shop.http.stream("GET", url, headers=customer.headers) as stream:
        updates = stream.aiter_lines()
        awaiting = await _until(updates, "awaiting_payment")
        paid = await shop.stripe_says("checkout.session.completed", {**created.json(), **awaiting})
        assert paid.status_code == 200, paid.text
        await _until(updates, "ready")
    await _settled(shop.platform, order_id, dishes)


async def _until(lines: AsyncIterator[str], status: str) -> Json:
    state: Json = {}
    async for line in lines:
        if not line.startswith("data:"):
            continue
        data: Json = orjson.loads(line[5:])
        if data.get("step", 0) >= state.get("step", 0):
            state = {**state, **data}
        if state.get("status") == status and (
            status != "awaiting_payment" or state.get("payment_link")
        ):
            return state
    raise AssertionError(f"the stream ended before {status}")


async def _settled(platform: LocalPlatform, order_id: str, dishes: list[str]) -> None:
    """Until every service is done with the order: no outbox entry, no stock marker left."""
    url = platform.base_env["MONGODB_URL"]
    client: AsyncMongoClient[mongo.Document] = AsyncMongoClient(url)
    try:

        def db(service: str) -> AsyncDatabase[mongo.Document]:
            return client[platform.database_name(service)]

        async def done() -> bool:
            for service, collection in (
                ("order", "orders"),
                ("payment", "payments"),
                ("kitchen", "kitchen_tickets"),
            ):
                doc = await db(service)[collection].find_one({"_id": order_id})
                if doc is None or doc.get("outbox"):
                    return False
            for dish in dishes:
                item = await db("stock").stock_items.find_one({"_id": dish})
                if item is None or any(key.startswith(order_id) for key in item.get("ops", {})):
                    return False
            return True

        await eventually(f"{order_id} settled in every service", done)
    finally:
        await client.close()


async def _counts(platform: LocalPlatform) -> tuple[Counter[tuple[str, str]], Counter[str]]:
    commands: Counter[tuple[str, str]] = Counter()
    events: Counter[str] = Counter()
    for process in platform.processes:
        samples = await metrics.scrape(process)
        for name, labels, value in samples.samples:
            found = dict(labels)
            if name == "oms_mongo_commands_total" and found["command"] != "ping":
                commands[(process.service, found["command"])] += int(value)
            elif name == "oms_events_published_total":
                events[found["type"]] += int(value)
    return commands, events
