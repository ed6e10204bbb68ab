"""The ids of Stripe events about no payment of ours are kept for a retention period, long
enough that Stripe's retries of one (for up to 3 days) are answered as duplicates, and then
forgotten by a periodic cleanup, so the collection does not grow with every such event.

FerretDB v1 has no TTL indexes: Payment deletes what is older than the retention itself,
every `PAYMENT_STRIPE_EVENTS_CLEANUP_SECONDS`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from pymongo import AsyncMongoClient

from devtools import servers, stripe_webhooks
from devtools.platform import LocalPlatform
from oms.payment.app import PaymentSettings
from oms.payment.repository import STRIPE_EVENTS, MongoPaymentRepository
from oms.platform import mongo
from tests.payment.conftest import PaymentWorld

RETENTION = timedelta(days=7)


def foreign_event() -> dict[str, Any]:
    """A verified event about a Checkout Session OMS did not open."""
    return stripe_webhooks.checkout_event("checkout.session.completed", "not-ours", "cs_other")


def received_days_ago(world: PaymentWorld, days: float) -> MongoPaymentRepository:
    """The repository as it wrote `days` ago (same collections, its clock set back)."""
    then = datetime.now(UTC) - timedelta(days=days)
    return MongoPaymentRepository(
        world.repository.payments,
        world.repository.stripe_events,
        world.repository.outbox,
        clock=lambda: then,
    )


async def remembered(world: PaymentWorld) -> set[str]:
    return {doc["_id"] async for doc in world.repository.stripe_events.find({})}


async def test_each_foreign_event_is_remembered_with_when_it_was_received(
    world: PaymentWorld,
) -> None:
    before = datetime.now(UTC)
    event = foreign_event()

    await world.webhook(event)

    doc = await world.repository.stripe_events.find_one({"_id": event["id"]})
    assert doc is not None
    assert doc["type"] == "checkout.session.completed"
    received = doc["received_at"].replace(tzinfo=UTC)
    assert before - timedelta(seconds=1) <= received <= datetime.now(UTC)


async def test_the_cleanup_forgets_events_older_than_the_retention_and_keeps_the_rest(
    world: PaymentWorld,
) -> None:
    await received_days_ago(world, 8).note_foreign_event("evt_eight_days", "checkout.x")
    await received_days_ago(world, 30).note_foreign_event("evt_a_month", "checkout.x")
    await received_days_ago(world, 6).note_foreign_event("evt_six_days", "checkout.x")
    fresh = foreign_event()
    await world.webhook(fresh)

    forgotten = await world.repository.forget_foreign_events(RETENTION)

    assert forgotten == 2
    assert await remembered(world) == {"evt_six_days", fresh["id"]}
    assert await world.repository.forget_foreign_events(RETENTION) == 0  # nothing more is old


async def test_a_redelivery_within_the_retention_is_still_a_duplicate_after_cleanups(
    world: PaymentWorld,
) -> None:
    event = foreign_event()
    assert (await world.webhook(event)).duplicate is False

    await world.repository.forget_foreign_events(RETENTION)
    again = await world.webhook(event)

    assert (again.event_id, again.duplicate) == (event["id"], True)
    # A week later, past every retry Stripe makes, the id is forgotten. Were it delivered
    # again after all, it would be remembered anew: an event about no payment of ours
    # changes nothing either way.
    week_later = datetime.now(UTC) + RETENTION + timedelta(minutes=1)
    world.repository.clock = lambda: week_later
    assert await world.repository.forget_foreign_events(RETENTION) == 1
    assert await remembered(world) == set()


def test_a_retention_shorter_than_stripes_retries_is_refused() -> None:
    assert PaymentSettings().stripe_events_retention_seconds == RETENTION.total_seconds()
    assert PaymentSettings(stripe_events_retention_seconds=3 * 24 * 3600)

    with pytest.raises(ValidationError, match="greater than or equal to 259200"):
        PaymentSettings(stripe_events_retention_seconds=24 * 3600)


# --- the Payment process runs the cleanup on its own ------------------------------------------


@pytest.fixture
def payment_process(
    servers_dir: Path,
    rabbitmq: servers.RabbitMQ,
    ferretdb: servers.FerretDB,
    consul: servers.Consul,
    stripe_mock: servers.StripeMock,
) -> Iterator[LocalPlatform]:
    """Payment alone, as its container runs it, cleaning up five times a second."""
    platform = LocalPlatform(
        servers_dir / "oms-payment-retention",
        rabbitmq,
        ferretdb,
        consul,
        stripe_mock,
        env={"PAYMENT_STRIPE_EVENTS_CLEANUP_SECONDS": "0.2"},
    )
    try:
        platform.start(("payment",))
        yield platform
    finally:
        platform.stop()


async def test_the_payment_service_forgets_old_foreign_events_by_itself(
    payment_process: LocalPlatform, ferretdb: servers.FerretDB
) -> None:
    client: AsyncMongoClient[mongo.Document] = AsyncMongoClient(ferretdb.mongodb_url)
    try:
        db = client[payment_process.database_name("payment")]
        now = datetime.now(UTC)
        await db[STRIPE_EVENTS].insert_many(
            [
                {"_id": "evt_old", "type": "checkout.x", "received_at": now - timedelta(days=8)},
                {"_id": "evt_new", "type": "checkout.x", "received_at": now - timedelta(days=1)},
            ]
        )
        indexes = [index["key"] async for index in await db[STRIPE_EVENTS].list_indexes()]

        deadline = time.monotonic() + 20
        while await db[STRIPE_EVENTS].find_one({"_id": "evt_old"}) is not None:
            assert time.monotonic() < deadline, payment_process.logs()
            await asyncio.sleep(0.1)

        # The run that removed the old one judged the new one by the same filter.
        assert [doc["_id"] async for doc in db[STRIPE_EVENTS].find({})] == ["evt_new"]
        assert {"received_at": 1} in [dict(key) for key in indexes]
    finally:
        await client.drop_database(payment_process.database_name("payment"))
        await client.close()
