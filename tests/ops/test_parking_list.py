"""`python -m oms.ops.parking list` and `show` on messages the real Consumer parked in the
real RabbitMQ: what each says, the filters that select, and names for messages without an id.

Each test parks its own three messages (see `parked_samples`): `paid` and `cancelled`, which
the handler refused with a PermanentError and accepts when it sees them again, and a
malformed body.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import httpx

from devtools import servers
from oms.domain_events import (
    EXCHANGE,
    KITCHEN_ORDERS,
    ORDER_PAYMENTS,
    SUBSCRIPTIONS,
    PaymentFailed,
)
from oms.platform.broker import Broker
from oms.platform.consumer import Consumer, declare_queue_set, parking_queue_name
from oms.platform.events import Event, PermanentError
from oms.platform.settings import RabbitMQSettings
from tests.ops.parked_samples import (
    MALFORMED_BODY,
    Parked,
    amqp_url,
    depth,
    eventually,
    has_depth,
    park_samples,
    tool,
    tool_process,
)


async def test_list_shows_each_parked_message_with_its_reason_and_the_total(
    parked: Parked,
) -> None:
    result = await tool_process("list", "--queue", parked.queue, url=amqp_url(parked.broker))

    assert result.code == 0, result.err
    header, *rows, total = result.out.splitlines()
    assert header.split() == ["QUEUE", "EVENT", "ID", "TYPE", "PARKED", "AT", "ATTEMPTS", "REASON"]
    assert total == "total: 3"
    paid, cancelled, malformed = (row.split(maxsplit=5) for row in rows)
    assert paid == [parked.queue, parked.paid.id, parked.paid.type, paid[3], "1", paid[5]]
    assert paid[5] == "permanent: no such order"
    assert datetime.fromisoformat(paid[3]) > datetime.now(UTC) - timedelta(minutes=5)
    assert cancelled[:3] == [parked.queue, parked.cancelled.id, parked.cancelled.type]
    assert malformed[:3] == [parked.queue, parked.malformed_id, "-"]
    assert malformed[5].startswith("malformed: not an OMS event")
    assert len(malformed[5]) <= 60
    # Listing takes nothing away.
    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_list_json_is_one_document_for_machines(parked: Parked) -> None:
    result = await tool(amqp_url(parked.broker), "list", "--queue", parked.queue, "--json")

    assert result.code == 0, result.err
    document = result.json()
    assert document["total"] == 3
    first = document["messages"][0]
    assert datetime.fromisoformat(first.pop("parked_at")) > datetime.now(UTC) - timedelta(minutes=5)
    assert first == {
        "queue": parked.queue,
        "parking_queue": parked.parking_queue,
        "event_id": parked.paid.id,
        "event_type": parked.paid.type,
        "attempts": 1,
        "reason": "permanent: no such order",
        "original_routing_key": parked.paid.type,
    }
    assert document["messages"][2]["reason"] == (
        "malformed: not an OMS event: unexpected end of data: line 1 column 34 (char 33)"
    )


async def test_filters_select_by_type_id_and_how_long_ago_it_was_parked(parked: Parked) -> None:
    # A message parked two days ago, written the way the consumer writes one.
    old = Event(type=parked.paid.type, data={"order_id": "o-old"})
    two_days_ago = datetime.now(UTC) - timedelta(days=2)
    await parked.broker.send_to_queue(
        parked.parking_queue,
        aio_pika.Message(
            body=old.to_json(),
            message_id=old.id,
            type=old.type,
            headers={"x-parked-reason": "permanent: old", "x-parked-at": two_days_ago.isoformat()},
        ),
    )
    url, queue = amqp_url(parked.broker), parked.queue
    paid, cancelled, malformed = parked.paid.id, parked.cancelled.id, parked.malformed_id

    async def listed(*filters: str) -> list[str]:
        result = await tool(url, "list", "--queue", queue, "--json", *filters)
        assert result.code == 0, result.err
        return result.listed_ids()

    assert await listed() == [paid, cancelled, malformed, old.id]
    assert await listed("--type", parked.paid.type) == [paid, old.id]
    assert await listed("--type", parked.paid.type, "--type", parked.cancelled.type) == [
        paid,
        cancelled,
        old.id,
    ]
    assert await listed("--id", cancelled, "--id", malformed) == [cancelled, malformed]
    assert await listed("--type", parked.paid.type, "--id", cancelled) == []
    assert await listed("--newer-than", "1h") == [paid, cancelled, malformed]
    assert await listed("--older-than", "1d") == [old.id]
    assert await listed("--older-than", "1d", "--newer-than", "3d") == [old.id]
    assert await listed("--older-than", "90s") == [old.id]


async def test_queue_selects_one_consumers_parking_queue(broker: Broker, parked: Parked) -> None:
    other = await park_samples(broker)
    try:
        only_one = await tool(amqp_url(broker), "list", "--queue", other.queue, "--json")
        # The parking queue's own name is accepted too.
        both = await tool(
            amqp_url(broker),
            "list",
            "--queue",
            parked.queue,
            "--queue",
            other.parking_queue,
            "--json",
        )
    finally:
        await other.stop()

    assert only_one.listed_ids() == [other.paid.id, other.cancelled.id, other.malformed_id]
    assert {m["queue"] for m in both.json()["messages"]} == {parked.queue, other.queue}
    assert both.json()["total"] == 6


async def test_show_prints_properties_headers_and_the_pretty_printed_body(parked: Parked) -> None:
    result = await tool_process(
        "show", parked.paid.id, "--queue", parked.queue, "--url", amqp_url(parked.broker)
    )

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[0] == (
        f"event {parked.paid.id} in {parked.parking_queue} (replays into {parked.queue})"
    )
    fields = [line.split(maxsplit=1) for line in lines if line.startswith("  ")]
    assert fields.index(["message_id", parked.paid.id]) < fields.index(["x-attempt", "1"])
    assert ["type", parked.paid.type] in fields
    assert ["content_type", "application/json"] in fields
    assert ["x-parked-reason", "permanent: no such order"] in fields
    assert ["x-original-routing-key", parked.paid.type] in fields
    body = "\n".join(lines[lines.index("body:") + 1 :])
    assert body.startswith('{\n  "id": ')
    assert '      "item_id": "tiramisu"' in body
    assert Event.model_validate_json(body) == parked.paid


async def test_show_prints_a_body_that_is_not_json_as_it_is(parked: Parked) -> None:
    result = await tool(
        amqp_url(parked.broker), "show", parked.malformed_id, "--queue", parked.queue
    )

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[-2:] == ["body:", MALFORMED_BODY.decode()]
    assert ["type", "-"] in [line.split() for line in lines]
    reason = next(line.split(maxsplit=1) for line in lines if line.startswith("  x-parked-reason"))
    assert reason == [
        "x-parked-reason",
        "malformed: not an OMS event: unexpected end of data: line 1 column 34 (char 33)",
    ]


async def test_show_indents_a_reason_of_several_lines_under_its_first(parked: Parked) -> None:
    # JSON, but no event: the consumer parks it quoting pydantic, one line per error.
    not_an_event = aio_pika.Message(body=b'{"id": "e-1", "type": "Not An Event"}', message_id="e-1")
    await parked.broker.send_to_queue(parked.queue, not_an_event)
    await eventually(lambda: has_depth(parked.broker, parked.parking_queue, 4))

    result = await tool(amqp_url(parked.broker), "show", "e-1", "--queue", parked.queue)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  x-parked-reason"))
    column = lines[at].index("malformed: not an OMS event")
    assert lines[at].endswith("validation error for Event")
    assert lines[at + 1].startswith(" " * column + "type")


async def test_show_of_an_id_nobody_parked_says_so(parked: Parked) -> None:
    result = await tool(amqp_url(parked.broker), "show", "no-such-event", "--queue", parked.queue)

    assert (result.code, result.out) == (1, "")
    assert result.err == "parking: no parked message has event id 'no-such-event'\n"


async def test_without_queue_every_oms_consumer_queue_is_read(rabbitmq: servers.RabbitMQ) -> None:
    # A vhost of its own: the default queues are the platform's, which other tests also use.
    vhost = f"parking-{uuid.uuid4().hex[:8]}"
    management = httpx.AsyncClient(base_url=rabbitmq.management_url, auth=("guest", "guest"))
    (await management.put(f"/api/vhosts/{vhost}")).raise_for_status()
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    (await management.put(f"/api/permissions/{vhost}/guest", json=everything)).raise_for_status()
    settings = RabbitMQSettings(url=f"{rabbitmq.amqp_url}{vhost}", retry_delays_ms=[200])
    broker = Broker(settings, EXCHANGE)
    try:
        await broker.connect()
        # Every queue but the kitchen's, as if the kitchen had never started on this vhost.
        async with broker.channel() as channel:
            for subscription in SUBSCRIPTIONS:
                if subscription is not KITCHEN_ORDERS:
                    await declare_queue_set(
                        channel,
                        EXCHANGE,
                        subscription.queue,
                        subscription.routing_keys,
                        settings.retry_delays_ms,
                    )

        async def unknown_order(event: Event) -> None:
            raise PermanentError("no such order")

        consumer = Consumer(
            broker, ORDER_PAYMENTS.queue, dict.fromkeys(ORDER_PAYMENTS.routing_keys, unknown_order)
        )
        await consumer.start()
        failed = PaymentFailed(order_id="o-404", reason="card declined").to_event()
        await broker.publish(failed)
        await eventually(lambda: has_depth(broker, parking_queue_name(ORDER_PAYMENTS.queue), 1))
        await consumer.stop()

        result = await tool(settings.url, "list", "--json")
    finally:
        await broker.close()
        await management.delete(f"/api/vhosts/{vhost}")
        await management.aclose()

    assert result.code == 0, result.err
    (listed,) = result.json()["messages"]
    assert (listed["queue"], listed["event_id"]) == (ORDER_PAYMENTS.queue, failed.id)
    assert result.err == "parking: kitchen.orders.parking is not declared, skipped\n"


async def test_a_message_dead_lettered_by_hand_is_named_by_its_body_and_has_no_age(
    rabbitmq: servers.RabbitMQ, parked: Parked
) -> None:
    await parked.stop()
    by_hand = Event(type=parked.paid.type, data={"order_id": "o-3"})
    # As the RabbitMQ UI publishes: no properties at all, so no message id either.
    async with httpx.AsyncClient(base_url=rabbitmq.management_url, auth=("guest", "guest")) as http:
        for payload in (by_hand.model_dump_json(), "hello kitchen"):
            published = await http.post(
                f"/api/exchanges/%2F/{parked.broker.exchange}/publish",
                json={
                    "properties": {},
                    "routing_key": parked.paid.type,
                    "payload": payload,
                    "payload_encoding": "string",
                },
            )
            assert published.json() == {"routed": True}
    # Rejected by someone with a channel, the consumer queue dead-letters them to parking.
    channel = await parked.broker.connection.channel()
    consumer_queue = await channel.declare_queue(parked.queue, passive=True)
    for _ in range(2):
        message = await consumer_queue.get()
        assert message.message_id is None
        await message.reject(requeue=False)
    await eventually(lambda: has_depth(parked.broker, parked.parking_queue, 5))
    await channel.close()
    url, queue = amqp_url(parked.broker), parked.queue
    digest = "sha256:" + hashlib.sha256(b"hello kitchen").hexdigest()[:16]

    listed = await tool(url, "list", "--queue", queue, "--json")
    fresh = await tool(url, "list", "--queue", queue, "--json", "--newer-than", "1h")
    shown = await tool(url, "show", digest, "--queue", queue)
    purged = await tool(url, "purge", "--queue", queue, "--id", digest, "--yes")

    *_, event, text = listed.json()["messages"]
    assert (event["event_id"], text["event_id"]) == (by_hand.id, digest)
    assert (text["parked_at"], text["attempts"], text["reason"]) == (None, None, "")
    assert fresh.listed_ids() == [parked.paid.id, parked.cancelled.id, parked.malformed_id]
    assert shown.out.splitlines()[-1] == "hello kitchen"
    assert "x-death" in shown.out
    assert purged.out.splitlines()[-1] == "purged: 1"
    assert await depth(parked.broker, parked.parking_queue) == 4
