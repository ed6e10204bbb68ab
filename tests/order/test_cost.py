"""An order costs Order the same however many orders are stored: placing it and every
transition of its life send the same MongoDB commands, each to one document by `_id`, and
the database server spends about the same CPU on them with 5,000 orders stored as with none.

Order's commands are counted with PyMongo's command monitoring on this test's own client;
FerretDB's CPU is read from /proc. A filter FerretDB cannot serve by `_id` scans the whole
collection: 20 to 60 times the cost at 5,000 documents (see tests/servers), far above the
factor allowed here.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from devtools import servers
from devtools.process import cpu_seconds
from oms import domain_events as events
from oms.order.domain import Order, Status
from oms.platform import mongo
from oms.platform.settings import MongoSettings
from tests.order.conftest import OrderWorld

pytestmark = pytest.mark.timeout(300)
STORED = 5_000
LIVES = 20
COST_FACTOR = 2.0
STATES = [Status.PICKED_UP, Status.CANCELLED, Status.EXPIRED, Status.REFUNDED, Status.READY]
# Each step's commands on the orders, in order (the relay's background work left out).
BUDGET = {
    "place": ["insert"],
    "attach checkout": ["findAndModify"],
    "paid": ["findAndModify"],
    "preparing": ["findAndModify"],
    "ready": ["findAndModify"],
    "picked up": ["findAndModify"],
}


class Commands(monitoring.CommandListener):
    def __init__(self, database: str) -> None:
        self.database = database
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database:
            self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def commands(mongo_settings: MongoSettings) -> Commands:
    return Commands(mongo_settings.database)


@pytest.fixture
async def mongo_client(
    mongo_settings: MongoSettings, commands: Commands
) -> AsyncIterator[AsyncMongoClient[mongo.Document]]:
    """The world's client, counting what it sends (overrides the session's fixture)."""
    client = mongo.connect(mongo_settings, [commands])
    yield client
    await client.drop_database(mongo_settings.database)
    await client.close()


def _relay_work(name: str, command: dict[str, Any]) -> bool:
    """The relay's own background writes and reads (batched clears, the periodic sweep)."""
    if name == "find":
        return "outbox" in command["filter"]
    return name == "update" and all(
        set(u["u"]) == {"$unset"} and all(k.startswith("outbox.") for k in u["u"]["$unset"])
        for u in command["updates"]
    )


def _by_id(name: str, command: dict[str, Any]) -> bool:
    if name == "insert":
        return True
    if name == "update":
        return all(isinstance(u["q"].get("_id"), str) for u in command["updates"])
    if name == "findAndModify":
        return isinstance(command["query"].get("_id"), str)
    if name == "find":
        return isinstance(command["filter"].get("_id"), str)
    return False


async def _life(world: OrderWorld, dish: str, commands: Commands) -> dict[str, list[str]]:
    """One order from placement to pick-up; each step's commands."""
    steps: dict[str, list[str]] = {}

    async def step(name: str, work: Any) -> Any:
        start = len(commands.sent)
        result = await work
        sent = [(n, c) for n, c in commands.sent[start:] if not _relay_work(n, c)]
        assert all(_by_id(n, c) for n, c in sent), f"{name}: {sent}"
        steps[name] = [n for n, _ in sent]
        return result

    h, r = world.handlers, world.reactions
    order: Order = await step("place", world.place((dish, 2)))
    await step("attach checkout", h.attach_checkout(order.id, "cs_test", "https://pay"))
    captured = events.PaymentCaptured(
        order_id=order.id,
        checkout_session_id="cs_test",
        amount_minor=order.total_minor,
        currency=order.currency,
    )
    await step("paid", r.payment_captured(captured))
    started = events.TicketStarted(order_id=order.id, cook="cook-1", attempt=1)
    await step("preparing", r.ticket_started(started))
    await step("ready", r.ticket_ready(events.TicketReady(order_id=order.id, cook="cook-1")))
    picked = await step("picked up", h.pick_up(order.id))
    assert picked.status is Status.PICKED_UP
    return steps


async def _lives(world: OrderWorld, dish: str, commands: Commands, pid: int) -> float:
    """The database server's CPU seconds per order, over LIVES orders' whole lives."""
    before = cpu_seconds(pid)
    for _ in range(LIVES):
        assert await _life(world, dish, commands) == BUDGET
    await world.relay.drain()
    return (cpu_seconds(pid) - before) / LIVES


async def test_an_order_and_each_transition_cost_the_same_with_five_thousand_stored(
    world: OrderWorld, commands: Commands, ferretdb: servers.FerretDB
) -> None:
    assert ferretdb.process is not None
    pid = ferretdb.process.pid
    dish = await world.dish(on_hand=1_000)
    assert await _life(world, dish, commands) == BUDGET  # warm: caches, connections
    orders = world.repository.orders

    on_empty = await _lives(world, dish, commands, pid)
    model = await orders.find_one({"state.status": Status.PICKED_UP.value})
    assert model is not None
    for start in range(0, STORED, 1000):
        await orders.insert_many(
            [
                {
                    **model,
                    "_id": f"stored-{n:05d}",
                    "customer_id": f"c-{n % 97}",
                    "state": {**model["state"], "status": STATES[n % len(STATES)].value},
                }
                for n in range(start, start + 1000)
            ]
        )
    assert await orders.count_documents({}) >= STORED
    with_stored = await _lives(world, dish, commands, pid)

    print(
        f"database CPU per order's life: {on_empty * 1000:.2f} ms empty, "
        f"{with_stored * 1000:.2f} ms with {STORED} stored"
    )
    assert with_stored < on_empty * COST_FACTOR, (on_empty, with_stored)
