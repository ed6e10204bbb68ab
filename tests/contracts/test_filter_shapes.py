"""Every filter a repository sends on an order's path is one the database serves by `_id`.

FerretDB (the test and dev server) serves only `{_id: X}` from its index, and a `find` also
when the other conditions are dotted paths; our wrapper gives conditional writes the same
treatment. Anything else scans the collection, so its cost grows with every stored document.
Our FerretDB wrapper also keeps a partial index on the top-level fields that mark the
documents a background job must visit (`outbox`: events still staged; `due`: an order still
in progress), so a filter with `{F: {$exists: true, $ne: {}}}` on one of them reads only
those documents. This test drives every repository and outbox relay through its operations
on the real FerretDB, records each filter the driver sends (PyMongo command monitoring), and
fails on a shape that would scan, unless it is one of the few listings below, which are not
on an order's path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

from oms import domain_events as events
from oms.kitchen.repository import MongoTicketRepository
from oms.menu.domain import MenuItem
from oms.menu.repository import MongoMenuRepository
from oms.order.domain import Order, OrderItem, Status
from oms.order.repository import MongoOrderRepository
from oms.order_lines import Line
from oms.payment.domain import Payment, PaymentStatus
from oms.payment.repository import MongoPaymentRepository
from oms.platform import mongo
from oms.platform.broker import Broker
from oms.platform.outbox import Outbox
from oms.platform.outbox_relay import OutboxRelay
from oms.platform.settings import MongoSettings
from oms.stock.domain import Op, R
from oms.stock.repository import MongoStockRepository

# (collection, command, keys of the filter): listings and background jobs, with their reason.
NOT_ON_THE_PATH = {
    ("orders", "find", ("customer_id",)): "a customer's order list (an index on MongoDB)",
    ("orders", "find", ("state.status",)): "the staff board by status (an index on MongoDB)",
    ("orders", "find", ()): "the staff board, all orders",
    ("stock_items", "find", ("_id",)): "levels of a few items: the collection is the menu",
    ("stock_items", "find", ()): "all levels: the collection is the menu",
    ("menu_items", "find", ()): "the whole menu, read into caches",
    ("menu_items", "find", ("offered",)): "the menu on offer, read into caches",
    ("stripe_events", "delete", ("received_at",)): "the hourly cleanup of old foreign events",
}
# The fields scripts/servers/ferretdb/partial_indexes.go keeps a partial index on.
PARTIALLY_INDEXED = ("outbox", "due")
WRITES = {"update", "findAndModify", "delete"}
FILTERED = {"find", *WRITES}


@dataclass
class Sent:
    collection: str
    command: str
    filter: dict[str, Any]


class Filters(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        command = event.command
        name = event.command_name
        if name not in FILTERED:
            return
        collection = str(command.get(name, ""))
        if name == "find":
            self.sent.append(Sent(collection, name, dict(command.get("filter", {}))))
        elif name == "findAndModify":
            self.sent.append(Sent(collection, name, dict(command.get("query", {}))))
        else:
            key = "updates" if name == "update" else "deletes"
            for statement in command.get(key, []):
                self.sent.append(Sent(collection, name, dict(statement.get("q", {}))))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def served_by_id(filter_: dict[str, Any]) -> bool:
    """`_id` equality to one value, plus only dotted conditions."""
    ident = filter_.get("_id")
    if not isinstance(ident, str):
        return False
    return all("." in key for key in filter_ if key != "_id")


def served_by_partial_index(filter_: dict[str, Any]) -> bool:
    """`{F: {$exists: true, $ne: {}}}` on a partially indexed field, beside anything else."""
    marked = {"$exists": True, "$ne": {}}
    return any(filter_.get(field) == marked for field in PARTIALLY_INDEXED)


@pytest.fixture
async def recorded(
    mongo_settings: MongoSettings, broker: Broker
) -> AsyncIterator[tuple[Filters, Any]]:
    filters = Filters()
    client: AsyncMongoClient[mongo.Document] = mongo.connect(mongo_settings, [filters])
    db = mongo.database(client, mongo_settings)
    relays: list[OutboxRelay] = []

    def outbox(collection: str) -> Outbox:
        relay = OutboxRelay(db[collection], broker, must_route=lambda _: False)
        relays.append(relay)
        return Outbox(db[collection], relay)

    yield filters, (db, outbox)
    for relay in relays:
        await relay.drain()
    await client.drop_database(mongo_settings.database)
    await client.close()


async def test_every_filter_on_an_orders_path_is_served_by_id(
    recorded: tuple[Filters, Any],
) -> None:
    filters, (db, outbox) = recorded
    now = datetime.now(UTC)
    placed = events.OrderPlaced(
        order_id="o-1",
        customer_id="c-1",
        status="pending",
        step=1,
        currency="EUR",
        total_minor=950,
        lines=[events.PricedLine(item_id="pizza", name="Pizza", quantity=1, unit_price_minor=950)],
        checkout_expires_at=now + timedelta(minutes=30),
        access_token="t" * 24,
    ).to_event()

    orders = MongoOrderRepository(db["orders"], outbox("orders"))
    order = Order(
        "o-1",
        "c-1",
        Status.PENDING,
        (OrderItem("pizza", "Pizza", 1, 950),),
        "EUR",
        now,
        now,
        "t" * 24,
        now + timedelta(minutes=30),
    )
    await orders.insert(order, [placed], deadline=now)
    await orders.get("o-1")
    for order_id, deadline in await orders.due(now, 10):
        await orders.claim_due(order_id, deadline, now + timedelta(minutes=5))
    await orders.mark_overdue("o-1", Status.PENDING)
    await orders.transition("o-1", Status.AWAITING_PAYMENT, {Status.PENDING}, now, [placed])
    await orders.transition("o-1", Status.CANCELLED, {Status.AWAITING_PAYMENT}, now)
    await orders.require_refund("o-1", "paid late", [])
    await orders.settle_refund_stock("o-1", "return", [])
    await orders.mark_refunded("o-1")
    await orders.list_for_customer("c-1", 10, None)
    await orders.list_all({Status.PAID}, "", 10, None)
    await orders.list_all(set(), "", 10, None)

    payments = MongoPaymentRepository(db["payments"], db["stripe_events"], outbox("payments"))
    await payments.add(Payment("o-1", PaymentStatus.OPEN, checkout_session_id="cs_1"))
    await payments.get("o-1")
    await payments.transition(
        "o-1", PaymentStatus.CAPTURED, {PaymentStatus.OPEN}, stripe_event="evt_1"
    )
    await payments.note_stripe_event("o-1", "evt_2")
    await payments.note_foreign_event("evt_3", "checkout.session.completed")
    await payments.forget_foreign_events(timedelta(days=7))

    tickets = MongoTicketRepository(db["kitchen_tickets"], outbox("kitchen_tickets"))
    await tickets.start("o-1", "cook-1", 1, now, [])
    await tickets.take_over("o-1", "cook-2", now, [])
    await tickets.finish("o-1", "cook-2", now, [])
    await tickets.void("o-1", now, lambda food_used: [])
    await tickets.void("o-2", now, lambda food_used: [])  # no cook saw it: a voided one is left
    await tickets.get("o-1")

    stock = MongoStockRepository(db)
    await stock.add_item("pizza", 10)
    await stock.start("o-1", [Line("pizza", 1)], now)
    await stock.apply_all("o-1", Op.HOLD, [("pizza", 1)], now)
    await stock.finish("o-1", R.RESERVING, R.HELD)
    await stock.claim("o-1", R.HELD, R.COMMITTING, now)
    await stock.apply_all("o-1", Op.CONSUME, [("pizza", 1)], now)
    await stock.undo_hold("pizza", "o-1", 1)
    await stock.set_on_hand("pizza", 20)
    await stock.level("pizza")
    await stock.levels(["pizza"])
    await stock.flush()

    menu = MongoMenuRepository(db["menu_items"], outbox("menu_items"))
    item = MenuItem("pizza", "Pizza", "", 950, "EUR")
    await menu.add(item, [])
    await menu.save(item, [])
    await menu.set_offered("pizza", False, [])
    await menu.get_many(["pizza"])
    await menu.all(offered_only=True)
    for relay in {orders.outbox.relay, payments.outbox.relay, tickets.outbox.relay}:
        await relay.sweep()

    scanning = [
        sent
        for sent in filters.sent
        if not served_by_id(sent.filter)
        and not served_by_partial_index(sent.filter)
        and (sent.collection, sent.command, tuple(sorted(sent.filter))) not in NOT_ON_THE_PATH
    ]
    assert scanning == [], "these filters would scan their collection"
    seen = {(s.collection, s.command) for s in filters.sent}
    # The exercise really reached every repository's reads and writes.
    for collection in ("orders", "payments", "kitchen_tickets", "stock_items", "menu_items"):
        assert (collection, "find") in seen or (collection, "findAndModify") in seen, collection
    assert ("stock_reservations", "findAndModify") in seen
    assert ("stripe_events", "delete") in seen
    assert any(s.command == "find" and "outbox" in s.filter for s in filters.sent)  # sweeps
    assert any(s.command == "find" and "due" in s.filter for s in filters.sent)


def test_the_rule_itself() -> None:
    assert served_by_id({"_id": "a", "state.status": {"$in": ["x"]}})
    assert not served_by_id({"_id": "a", "status": "x"})  # a top-level key: a scan
    assert not served_by_id({"_id": {"$in": ["a", "b"]}})
    assert not served_by_id({"customer_id": "c"})
    assert served_by_partial_index({"due": {"$exists": True, "$ne": {}}, "due.at": {"$lte": 1}})
    assert not served_by_partial_index({"due.at": {"$lte": 1}})  # every document: a scan
    assert not served_by_partial_index({"state": {"$exists": True, "$ne": {}}})  # no index
