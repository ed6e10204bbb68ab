"""The FerretDB wrapper (scripts/servers/ferretdb): MongoDB's write semantics, by its proxy and
our patches to FerretDB.

FerretDB v1 alone loses concurrent updates, scans a whole table for a filter that is more than
`{_id: X}`, and hangs on a bulk write of more than a hundred updates. These tests run against
the real wrapper process and show what the proxy in front of it and the patched `_id`
pushdown guarantee instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from bson import ObjectId
from pymongo import AsyncMongoClient, DeleteOne, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.collation import Collation
from pymongo.errors import BulkWriteError, OperationFailure

from devtools import servers
from devtools.process import cpu_per_call

Document = dict[str, Any]
# A failure detector, never a wait: every awaited write here finishes in milliseconds.
DEADLINE = 60.0


@pytest.fixture
async def client(ferretdb: servers.FerretDB) -> AsyncIterator[AsyncMongoClient[Document]]:
    connected: AsyncMongoClient[Document] = AsyncMongoClient(
        ferretdb.mongodb_url, maxPoolSize=50, serverSelectionTimeoutMS=5_000
    )
    yield connected
    await connected.close()


@pytest.fixture
async def databases(
    client: AsyncMongoClient[Document],
) -> AsyncIterator[Callable[[], AsyncDatabase[Document]]]:
    """Makes fresh databases, each its own SQLite file, and drops them afterwards."""
    made: list[str] = []

    def make() -> AsyncDatabase[Document]:
        made.append(f"t_ferretdb_{uuid.uuid4().hex[:10]}")
        return client[made[-1]]

    yield make
    for name in made:
        await client.drop_database(name)


@pytest.fixture
def db(databases: Callable[[], AsyncDatabase[Document]]) -> AsyncDatabase[Document]:
    return databases()


# Conditional writes: `_id` plus dotted-path conditions, as MongoDB answers them.


async def test_a_conditional_update_changes_the_document_only_when_the_condition_holds(
    db: AsyncDatabase[Document],
) -> None:
    await db.orders.insert_one({"_id": "o-1", "state": {"status": "pending"}})
    transition = {"$set": {"state.status": "paid"}}

    hit = await db.orders.update_one(
        {"_id": "o-1", "state.status": {"$in": ["pending", "awaiting_payment"]}}, transition
    )
    again = await db.orders.update_one(
        {"_id": "o-1", "state.status": {"$in": ["pending", "awaiting_payment"]}}, transition
    )
    unchanged = await db.orders.update_one({"_id": "o-1", "state.status": "paid"}, transition)
    absent = await db.orders.update_one({"_id": "o-2", "state.status": "pending"}, transition)

    assert (hit.matched_count, hit.modified_count) == (1, 1)
    assert (again.matched_count, again.modified_count) == (0, 0)
    assert (unchanged.matched_count, unchanged.modified_count) == (1, 0)  # matched, same value
    assert (absent.matched_count, absent.modified_count) == (0, 0)
    assert await db.orders.find_one({"_id": "o-1"}) == {"_id": "o-1", "state": {"status": "paid"}}


async def test_a_conditional_decrement_by_object_id_stops_at_the_bound(
    db: AsyncDatabase[Document],
) -> None:
    ledger = ObjectId()
    await db.stock.insert_one({"_id": ledger, "items": {"pizza": {"available": 3}}})
    take_two = ({"_id": ledger, "items.pizza.available": {"$gte": 2}},)
    decrement = {"$inc": {"items.pizza.available": -2}}

    first = await db.stock.update_one(*take_two, decrement)
    second = await db.stock.update_one(*take_two, decrement)

    assert (first.modified_count, second.modified_count) == (1, 0)
    assert await db.stock.find_one({"_id": ledger}) == {
        "_id": ledger,
        "items": {"pizza": {"available": 1}},
    }


async def test_find_one_and_update_returns_the_document_before_or_after_or_none(
    db: AsyncDatabase[Document],
) -> None:
    await db.orders.insert_one({"_id": "o-1", "state": {"status": "pending", "version": 1}})
    condition = {"_id": "o-1", "state.status": "pending"}

    before = await db.orders.find_one_and_update(
        condition, {"$set": {"state.version": 2}}, return_document=ReturnDocument.BEFORE
    )
    after = await db.orders.find_one_and_update(
        condition, {"$set": {"state.status": "paid"}}, return_document=ReturnDocument.AFTER
    )
    missed = await db.orders.find_one_and_update(condition, {"$set": {"state.version": 9}})

    assert before == {"_id": "o-1", "state": {"status": "pending", "version": 1}}
    assert after == {"_id": "o-1", "state": {"status": "paid", "version": 2}}
    assert missed is None
    assert await db.orders.find_one({"_id": "o-1"}) == after


async def test_conditional_deletes_remove_only_a_matching_document(
    db: AsyncDatabase[Document],
) -> None:
    await db.orders.insert_many(
        [
            {"_id": "o-1", "state": {"status": "cancelled"}},
            {"_id": "o-2", "state": {"status": "paid"}},
        ]
    )

    kept = await db.orders.delete_one({"_id": "o-2", "state.status": "cancelled"})
    deleted = await db.orders.delete_one({"_id": "o-1", "state.status": "cancelled"})
    returned = await db.orders.find_one_and_delete({"_id": "o-2", "state.status": "paid"})
    nothing = await db.orders.find_one_and_delete({"_id": "o-2", "state.status": "paid"})

    assert (kept.deleted_count, deleted.deleted_count) == (0, 1)
    assert returned == {"_id": "o-2", "state": {"status": "paid"}}
    assert nothing is None
    assert await db.orders.count_documents({}) == 0


async def test_a_write_that_matches_nothing_is_answered_in_ferretdbs_own_reply_shape(
    db: AsyncDatabase[Document],
) -> None:
    # An unknown `_id`, and a known one whose condition does not hold, are answered alike.
    await db.orders.insert_one({"_id": "o-1", "state": {"status": "paid"}})
    missing, unmet = {"_id": "o-9"}, {"_id": "o-1", "state.status": "pending"}

    writes: dict[str, Callable[[Document], Document]] = {
        "update": lambda q: {"update": "orders", "updates": [{"q": q, "u": {"$set": {"x": 1}}}]},
        "delete": lambda q: {"delete": "orders", "deletes": [{"q": q, "limit": 1}]},
        "modify": lambda q: {"findAndModify": "orders", "query": q, "update": {"$set": {"x": 1}}},
        "remove": lambda q: {"findAndModify": "orders", "query": q, "remove": True},
    }

    replies = {
        name: [list((await db.command(write(query))).items()) for query in (missing, unmet)]
        for name, write in writes.items()
    }

    assert replies["update"] == [[("n", 0), ("nModified", 0), ("ok", 1.0)]] * 2
    assert replies["delete"] == [[("n", 0), ("ok", 1.0)]] * 2
    no_update = {"n": 0, "updatedExisting": False}
    assert replies["modify"] == [[("lastErrorObject", no_update), ("value", None), ("ok", 1.0)]] * 2
    assert replies["remove"] == [[("lastErrorObject", {"n": 0}), ("value", None), ("ok", 1.0)]] * 2
    assert await db.orders.find_one({"_id": "o-1"}) == {"_id": "o-1", "state": {"status": "paid"}}


async def test_an_option_ferretdb_lacks_is_refused_even_when_nothing_would_match(
    db: AsyncDatabase[Document],
) -> None:
    # A write with a condition reaches FerretDB as sent, so it refuses what it lacks.
    await db.orders.insert_one({"_id": "o-1", "state": {"status": "paid"}})

    with pytest.raises(OperationFailure, match="collation"):
        await db.orders.update_one(
            {"_id": "o-1", "state.status": "pending"},
            {"$set": {"x": 1}},
            collation=Collation("en"),
        )


# Atomicity: FerretDB alone let all 200 of these decrements match.


async def test_concurrent_conditional_decrements_never_oversell(
    db: AsyncDatabase[Document],
) -> None:
    await db.stock.insert_one({"_id": "ledger", "items": {"pizza": {"available": 50}}})

    async def take_one() -> int:
        result = await db.stock.update_one(
            {"_id": "ledger", "items.pizza.available": {"$gte": 1}},
            {"$inc": {"items.pizza.available": -1}},
        )
        return result.modified_count

    taken = await asyncio.wait_for(asyncio.gather(*(take_one() for _ in range(200))), DEADLINE)

    assert sum(taken) == 50
    ledger = await db.stock.find_one({"_id": "ledger"})
    assert ledger == {"_id": "ledger", "items": {"pizza": {"available": 0}}}


async def test_concurrent_find_one_and_update_hands_out_each_unit_once(
    db: AsyncDatabase[Document],
) -> None:
    await db.stock.insert_one({"_id": "ledger", "items": {"pizza": {"available": 50}}})

    async def take_one() -> int | None:
        before = await db.stock.find_one_and_update(
            {"_id": "ledger", "items.pizza.available": {"$gte": 1}},
            {"$inc": {"items.pizza.available": -1}},
        )
        return None if before is None else int(before["items"]["pizza"]["available"])

    seen = await asyncio.wait_for(asyncio.gather(*(take_one() for _ in range(200))), DEADLINE)

    assert sorted(unit for unit in seen if unit is not None) == list(range(1, 51))
    assert seen.count(None) == 150


# Bulk writes: split into one command per statement, merged back into MongoDB's reply.


async def test_a_bulk_write_of_500_updates_completes(db: AsyncDatabase[Document]) -> None:
    # FerretDB alone holds one database connection per statement until the command ends and
    # hung forever at about a hundred.
    await db.orders.insert_many([{"_id": f"o-{i}", "v": 0} for i in range(500)])

    updates = [UpdateOne({"_id": f"o-{i}"}, {"$set": {"v": i + 1}}) for i in range(500)]

    result = await asyncio.wait_for(db.orders.bulk_write(updates), DEADLINE)

    assert (result.matched_count, result.modified_count) == (500, 500)
    assert await db.orders.count_documents({"v": {"$gt": 0}}) == 500


async def test_a_bulk_of_conditional_writes_counts_each_statement(
    db: AsyncDatabase[Document],
) -> None:
    await db.orders.insert_many(
        [{"_id": f"o-{i}", "state": {"status": "paid" if i % 2 else "pending"}} for i in range(300)]
    )
    requests: list[UpdateOne | DeleteOne] = [
        UpdateOne({"_id": f"o-{i}", "state.status": "pending"}, {"$set": {"state.status": "x"}})
        for i in range(300)
    ]
    requests += [DeleteOne({"_id": f"o-{i}", "state.status": "paid"}) for i in range(100)]

    result = await asyncio.wait_for(db.orders.bulk_write(requests), DEADLINE)

    assert (result.matched_count, result.modified_count, result.deleted_count) == (150, 150, 50)
    assert await db.orders.count_documents({"state.status": "x"}) == 150
    assert await db.orders.count_documents({}) == 250


@pytest.mark.parametrize(("ordered", "matched"), [(True, 1), (False, 2)])
async def test_a_failing_statement_is_reported_at_its_own_index(
    db: AsyncDatabase[Document], ordered: bool, matched: int
) -> None:
    await db.orders.insert_many([{"_id": "a", "n": 1}, {"_id": "b", "n": "text"}, {"_id": "c"}])
    requests = [
        UpdateOne({"_id": key, "state.x": None}, {"$inc": {"n": 1}}) for key in ("a", "b", "c")
    ]

    with pytest.raises(BulkWriteError) as raised:
        await db.orders.bulk_write(requests, ordered=ordered)

    details = raised.value.details
    assert [error["index"] for error in details["writeErrors"]] == [1]
    assert details["nMatched"] == matched
    assert (await db.orders.find_one({"_id": "c"}) or {}).get("n") == (None if ordered else 1)


# Locks: one per database, so services with their own databases write in parallel.


async def test_a_write_held_up_in_one_database_does_not_hold_up_another(
    ferretdb: servers.FerretDB,
    client: AsyncMongoClient[Document],
    databases: Callable[[], AsyncDatabase[Document]],
) -> None:
    slow, other = databases(), databases()
    await slow.stock.insert_one({"_id": "ledger", "items": {"pizza": {"available": 5}}})
    await slow.orders.insert_one({"_id": "o-0"})
    await other.orders.insert_one({"_id": "o-0"})

    # SQLite's own write lock on the slow database's file keeps its next write from finishing.
    holder = sqlite3.connect(ferretdb.workdir / "data" / f"{slow.name}.sqlite", timeout=10)
    holder.isolation_level = None
    holder.execute("BEGIN IMMEDIATE")
    try:
        decrement = asyncio.create_task(
            slow.stock.update_one(
                {"_id": "ledger", "items.pizza.available": {"$gte": 1}},
                {"$inc": {"items.pizza.available": -1}},
            )
        )
        await until_listed(client, f"{slow.name}.stock", waiting=False)  # holds the lock
        queued = asyncio.create_task(slow.orders.insert_one({"_id": "o-1"}))
        await until_listed(client, f"{slow.name}.orders", waiting=True)  # behind it

        elsewhere = await asyncio.wait_for(other.orders.insert_one({"_id": "o-1"}), DEADLINE)

        assert elsewhere.inserted_id == "o-1"
        assert not decrement.done()
        assert not queued.done()
    finally:
        holder.rollback()
        holder.close()
    assert (await asyncio.wait_for(decrement, DEADLINE)).modified_count == 1
    assert (await asyncio.wait_for(queued, DEADLINE)).inserted_id == "o-1"


async def until_listed(client: AsyncMongoClient[Document], ns: str, *, waiting: bool) -> None:
    """Polls currentOp (one round trip each) until a write on ns holds or waits for its lock."""
    async with asyncio.timeout(DEADLINE):
        while True:
            ops = (await client.admin.command("currentOp"))["inprog"]
            if any(op["ns"] == ns and op["waitingForLock"] is waiting for op in ops):
                return


# Cost: a conditional write is served by the `_id` index, whatever the collection holds.

COST_FACTOR = 3.0  # a scan of 5,000 documents cost 20 to 60 times a lookup by `_id`
CALLS = 200


@pytest.mark.timeout(300)
async def test_conditional_writes_and_reads_cost_the_same_at_5000_documents(
    ferretdb: servers.FerretDB, db: AsyncDatabase[Document]
) -> None:
    assert ferretdb.process is not None
    pid = ferretdb.process.pid

    def order(i: int) -> Document:
        return {"_id": f"o-{i:05d}", "state": {"status": "pending"}, "total": i}

    await db.few.insert_many([order(i) for i in range(10)])
    await db.many.insert_many([order(i) for i in range(5_000)])
    versions = iter(range(10**6))

    def update(collection: str, key: str) -> Callable[[], Awaitable[object]]:
        return lambda: db[collection].update_one(
            {"_id": key, "state.status": {"$in": ["pending", "paid"]}},
            {"$set": {"version": next(versions)}},
        )

    def find(collection: str, key: str) -> Callable[[], Awaitable[object]]:
        return lambda: db[collection].find_one({"_id": key, "state.status": "pending"})

    def modify(collection: str, key: str) -> Callable[[], Awaitable[object]]:
        # A top-level condition beside `_id`, not only dotted ones, and findAndModify.
        return lambda: db[collection].find_one_and_update(
            {"_id": key, "total": {"$gte": 0}}, {"$inc": {"calls": 1}}
        )

    for make in (update, find, modify):
        small = await cpu_per_call(pid, make("few", "o-00009"), CALLS)
        large = await cpu_per_call(pid, make("many", "o-04999"), CALLS)
        assert large < small * COST_FACTOR, (make.__name__, small, large)
    assert await db.many.count_documents({"version": {"$gte": 0}}) == 1
    assert await db.many.count_documents({"calls": CALLS}) == 1


# The outbox sweep: documents whose `outbox` holds entries, read without reading the rest.

PENDING = {"outbox": {"$exists": True, "$ne": {}}}


async def test_the_outbox_sweeps_filter_finds_exactly_the_documents_with_staged_events(
    db: AsyncDatabase[Document],
) -> None:
    await db.orders.insert_many(
        [
            {"_id": "staged", "outbox": {"e-1": {"type": "order.placed"}}},
            {"_id": "cleared", "outbox": {}},
            {"_id": "never", "state": {"status": "pending"}},
            {"_id": "nested-empty", "outbox": {"e-2": {}}},
            {"_id": "null", "outbox": None},
        ]
    )

    found = sorted([doc["_id"] async for doc in db.orders.find(PENDING, {"_id": 1})])

    # As MongoDB answers it: a null `outbox` exists and is not {}.
    assert found == ["nested-empty", "null", "staged"]


@pytest.mark.timeout(300)
async def test_the_outbox_sweep_costs_the_same_at_5000_documents(
    ferretdb: servers.FerretDB, databases: Callable[[], AsyncDatabase[Document]]
) -> None:
    assert ferretdb.process is not None
    pid = ferretdb.process.pid
    few, many = databases(), databases()

    def order(i: int) -> Document:
        staged = {"e-1": {"type": "order.placed"}} if i == 7 else {}
        return {"_id": f"o-{i:05d}", "state": {"status": "pending"}, "outbox": staged}

    await few.orders.insert_many([order(i) for i in range(10)])
    await many.orders.insert_many([order(i) for i in range(5_000)])
    async with asyncio.timeout(DEADLINE):
        for db in (few, many):
            await ferretdb.until_indexed(db.name, "orders", "_oms_outbox")

    async def sweep(db: AsyncDatabase[Document]) -> list[Document]:
        return [doc async for doc in db.orders.find(PENDING, {"outbox": 1})]

    small = await cpu_per_call(pid, lambda: sweep(few), CALLS)
    large = await cpu_per_call(pid, lambda: sweep(many), CALLS)

    assert large < small * COST_FACTOR, (small, large)
    assert [doc["_id"] for doc in await sweep(many)] == ["o-00007"]
