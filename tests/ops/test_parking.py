"""`python -m oms.ops.parking` on messages the real Consumer parked in the real RabbitMQ.

Each test parks its own three messages (see `parked_samples`): `paid` and `cancelled`, which
the handler refused with a PermanentError and accepts when it sees them again, and a
malformed body.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import uuid
from datetime import UTC, datetime, timedelta

import aio_pika
import httpx
import pytest

from oms.domain_events import KITCHEN_ORDERS, ORDER_PAYMENTS, SUBSCRIPTIONS, OrderExpired
from oms.platform.broker import Broker
from oms.platform.consumer import ATTEMPT_HEADER, Consumer, declare_queue_set, parking_queue_name
from oms.platform.events import Event, PermanentError
from oms.platform.settings import RabbitMQSettings
from devtools import servers
from tests.ops.parked_samples import (
    MALFORMED_BODY,
    Parked,
    depth,
    eventually,
    has_depth,
    park_samples,
    spawn_tool,
    tool,
    tool_process,
)


def _url(broker: Broker) -> str:
    return broker.settings.url


async def test_list_shows_each_parked_message_with_its_reason_and_the_total(
    parked: Parked,
) -> None:
    result = await tool_process("list", "--queue", parked.queue, url=_url(parked.broker))

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
    result = await tool(_url(parked.broker), "list", "--queue", parked.queue, "--json")

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
    assert "validation error" in document["messages"][2]["reason"]


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
    url, queue = _url(parked.broker), parked.queue
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
        only_one = await tool(_url(broker), "list", "--queue", other.queue, "--json")
        # The parking queue's own name is accepted too.
        both = await tool(
            _url(broker), "list", "--queue", parked.queue, "--queue", other.parking_queue, "--json"
        )
    finally:
        await other.stop()

    assert only_one.listed_ids() == [other.paid.id, other.cancelled.id, other.malformed_id]
    assert {m["queue"] for m in both.json()["messages"]} == {parked.queue, other.queue}
    assert both.json()["total"] == 6


async def test_show_prints_properties_headers_and_the_pretty_printed_body(parked: Parked) -> None:
    result = await tool_process(
        "show", parked.paid.id, "--queue", parked.queue, "--url", _url(parked.broker)
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
    result = await tool(_url(parked.broker), "show", parked.malformed_id, "--queue", parked.queue)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[-2:] == ["body:", MALFORMED_BODY.decode()]
    assert ["type", "-"] in [line.split() for line in lines]
    # The reason quotes pydantic over several lines, each indented under the first.
    at = next(i for i, line in enumerate(lines) if line.startswith("  x-parked-reason"))
    column = lines[at].index("malformed: not an OMS event")
    assert lines[at + 1].startswith(" " * column + "  Invalid JSON")


async def test_show_of_an_id_nobody_parked_says_so(parked: Parked) -> None:
    result = await tool(_url(parked.broker), "show", "no-such-event", "--queue", parked.queue)

    assert (result.code, result.out) == (1, "")
    assert result.err == "parking: no parked message has event id 'no-such-event'\n"


async def test_replay_hands_the_original_events_back_and_the_consumer_now_handles_them(
    parked: Parked,
) -> None:
    url, queue = _url(parked.broker), parked.queue
    purged = await tool(url, "purge", "--queue", queue, "--id", parked.malformed_id, "--yes")
    assert purged.code == 0, purged.err

    result = await tool_process("replay", "--queue", queue, url=url)

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"replayed {queue} {parked.paid.id} {parked.paid.type}",
        f"replayed {queue} {parked.cancelled.id} {parked.cancelled.type}",
        "replayed: 2",
    ]
    await eventually(lambda: len(parked.handled) == 2)
    assert parked.handled == [parked.paid.id, parked.cancelled.id]
    assert parked.calls == {parked.paid.id: 2, parked.cancelled.id: 2}
    assert await depth(parked.broker, parked.parking_queue) == 0
    assert await depth(parked.broker, queue) == 0


async def test_a_replayed_message_is_the_original_without_the_parking_headers(
    broker: Broker, parked: Parked
) -> None:
    await parked.stop()  # so the replayed copy waits in the consumer's queue for reading
    # Another consumer of the same event type: a replay must not reach it.
    channel = await broker.connection.channel()
    bystander = await channel.declare_queue(exclusive=True)
    await bystander.bind(broker.settings.exchange, routing_key=parked.paid.type)

    result = await tool(_url(broker), "replay", "--queue", parked.queue, "--id", parked.paid.id)

    assert result.code == 0, result.err
    consumer_queue = await channel.declare_queue(parked.queue, passive=True)
    replayed = await consumer_queue.get(fail=False)
    assert replayed is not None
    await replayed.ack()
    assert replayed.message_id == parked.paid.id
    assert replayed.type == parked.paid.type
    assert replayed.body == parked.paid.to_json()
    assert replayed.content_type == "application/json"
    assert replayed.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert replayed.timestamp is not None
    assert replayed.timestamp.timestamp() == int(parked.paid.occurred_at.timestamp())
    headers = replayed.headers
    assert headers["x-event-version"] == 1
    assert headers["x-original-routing-key"] == parked.paid.type
    assert not {ATTEMPT_HEADER, "x-parked-reason", "x-parked-at"} & headers.keys()
    assert (await bystander.declare()).message_count == 0
    remaining = await tool(_url(broker), "list", "--queue", parked.queue, "--json")
    assert remaining.listed_ids() == [parked.cancelled.id, parked.malformed_id]
    await channel.close()


async def test_a_replay_starts_the_attempts_over(broker: Broker) -> None:
    queue, key = f"test.parking.{os.urandom(5).hex()}", f"test.t{os.urandom(5).hex()}.paid"
    failures_left = 4  # every attempt of the tests' schedule: the first and three retries
    succeeded = 0

    async def flaky(event: Event) -> None:
        nonlocal failures_left, succeeded
        if failures_left:
            failures_left -= 1
            raise ConnectionError("the database is down")
        succeeded += 1

    consumer = Consumer(broker, queue, [key], flaky)
    await consumer.start()
    try:
        await broker.publish(Event(type=key))
        await eventually(lambda: has_depth(broker, parking_queue_name(queue), 1))
        assert (failures_left, consumer.max_attempts) == (0, 4)

        # Had it kept x-attempt 4, this failure would park it at once instead of retrying.
        failures_left = 1
        result = await tool(_url(broker), "replay", "--queue", queue)
        assert result.code == 0, result.err
        await eventually(lambda: succeeded == 1)
        assert await depth(broker, parking_queue_name(queue)) == 0
    finally:
        await consumer.stop()


async def test_replay_into_a_queue_that_is_gone_replays_nothing(parked: Parked) -> None:
    await parked.stop()
    channel = await parked.broker.connection.channel()
    await channel.queue_delete(parked.queue)
    await channel.close()

    result = await tool(_url(parked.broker), "replay", "--queue", parked.queue)

    assert result.code == 2
    assert result.err == (
        f"parking: cannot replay into {parked.queue!r}: no such queue; nothing replayed\n"
    )
    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_purge_without_a_terminal_and_without_yes_refuses(parked: Parked) -> None:
    result = await tool_process("purge", "--queue", parked.queue, url=_url(parked.broker))

    assert result.code == 2
    assert result.err == "parking: purge asks before deleting; without a terminal pass --yes\n"
    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_purge_yes_deletes_only_the_selected_and_keeps_the_rest_in_order(
    parked: Parked,
) -> None:
    url, queue = _url(parked.broker), parked.queue

    result = await tool_process(
        "purge", "--queue", queue, "--id", parked.cancelled.id, "--yes", url=url
    )

    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"purged {queue} {parked.cancelled.id} {parked.cancelled.type}",
        "purged: 1",
    ]
    remaining = await tool(url, "list", "--queue", queue, "--json")
    assert remaining.listed_ids() == [parked.paid.id, parked.malformed_id]
    assert await depth(parked.broker, parked.parking_queue) == 2


@pytest.mark.parametrize(("answer", "deleted"), [("n\n", False), ("yes\n", True)])
async def test_purge_on_a_terminal_asks_first(parked: Parked, answer: str, deleted: bool) -> None:
    controller, terminal = os.openpty()
    try:
        os.write(controller, answer.encode())
        result = await tool_process(
            "purge",
            "--queue",
            parked.queue,
            "--type",
            parked.paid.type,
            url=_url(parked.broker),
            stdin=terminal,
        )
    finally:
        os.close(terminal)
        os.close(controller)

    assert parked.paid.id in result.err  # the table of what would go
    assert "Delete these 1 parked messages for good? [y/N]" in result.err
    expected = [parked.cancelled.id, parked.malformed_id]
    remaining = await tool(_url(parked.broker), "list", "--queue", parked.queue, "--json")
    if deleted:
        assert result.code == 0, result.err
        assert remaining.listed_ids() == expected
    else:
        assert result.code == 1
        assert result.err.endswith("parking: nothing deleted\n")
        assert remaining.listed_ids() == [parked.paid.id, *expected]


async def test_ctrl_c_at_the_prompt_ends_the_tool_and_deletes_nothing(parked: Parked) -> None:
    controller, terminal = os.openpty()
    process = await spawn_tool(
        "purge", "--queue", parked.queue, url=_url(parked.broker), stdin=terminal
    )
    try:
        assert process.stderr is not None
        shown = b""
        while b"[y/N]" not in shown:
            chunk = await asyncio.wait_for(process.stderr.read(4096), 30)
            assert chunk, f"the tool ended before asking: {shown!r}"
            shown += chunk
        process.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(process.wait(), 30)
        rest = (await process.stderr.read()).decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        os.close(terminal)
        os.close(controller)

    assert code == 130
    assert rest.endswith("parking: interrupted; every message not yet acted on stays parked\n")
    assert await depth(parked.broker, parked.parking_queue) == 3


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["--older-than", "5x"], "argument --older-than: not a duration: '5x'"),
        (["--newer-than", "1w"], "argument --newer-than: not a duration: '1w'"),
        (["--type", "Order Paid"], "argument --type: not an event type: 'Order Paid'"),
        (["--id", " "], "argument --id: an event id cannot be empty"),
        (["--older-than", "1h", "--newer-than", "10m"], "--older-than 1h and --newer-than 10m"),
        (["--queue", "no.such.queue"], "no parking queue 'no.such.queue.parking' on this broker"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
async def test_a_bad_filter_exits_2_with_the_reason_in_one_line(
    parked: Parked, arguments: list[str], reason: str
) -> None:
    result = await tool(_url(parked.broker), "list", *arguments)

    assert result.code == 2
    assert result.err.startswith(f"parking: {reason}")
    assert result.err.count("\n") == 1
    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_a_process_reports_operator_mistakes_in_one_line_without_a_traceback(
    parked: Parked,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed_port = unused.getsockname()[1]
    unreachable = f"amqp://guest:s3cret@127.0.0.1:{closed_port}/"

    cases = {
        "unreachable": await tool_process("list", "--url", unreachable),
        "unknown queue": await tool_process(
            "replay", "--queue", "no.such.queue", url=_url(parked.broker)
        ),
        "bad filter": await tool_process("purge", "--older-than", "soon", "--yes"),
        "not amqp": await tool_process("list", url="http://127.0.0.1:15672/"),
    }

    for name, result in cases.items():
        assert result.code == 2, name
        assert result.err.startswith("parking: "), result.err
        assert result.err.count("\n") == 1, result.err
        assert "Traceback" not in result.err, name
    assert cases["unreachable"].err.startswith(
        f"parking: cannot connect to RabbitMQ at amqp://guest:***@127.0.0.1:{closed_port}/"
    )


async def test_without_queue_every_oms_consumer_queue_is_read(rabbitmq: servers.RabbitMQ) -> None:
    # A vhost of its own: the default queues are the platform's, which other tests also use.
    vhost = f"parking-{uuid.uuid4().hex[:8]}"
    management = httpx.AsyncClient(base_url=rabbitmq.management_url, auth=("guest", "guest"))
    (await management.put(f"/api/vhosts/{vhost}")).raise_for_status()
    everything = {"configure": ".*", "write": ".*", "read": ".*"}
    (await management.put(f"/api/permissions/{vhost}/guest", json=everything)).raise_for_status()
    settings = RabbitMQSettings(url=f"{rabbitmq.amqp_url}{vhost}", retry_delays_ms=[200])
    broker = Broker(settings)
    try:
        await broker.connect()
        # Every queue but the kitchen's, as if the kitchen had never started on this vhost.
        async with broker.channel() as channel:
            for subscription in SUBSCRIPTIONS:
                if subscription is not KITCHEN_ORDERS:
                    await declare_queue_set(
                        channel,
                        settings.exchange,
                        subscription.queue,
                        subscription.routing_keys,
                        settings.retry_delays_ms,
                    )

        async def unknown_order(event: Event) -> None:
            raise PermanentError("no such order")

        consumer = Consumer(
            broker, ORDER_PAYMENTS.queue, ORDER_PAYMENTS.routing_keys, unknown_order
        )
        await consumer.start()
        expired = OrderExpired(order_id="o-404").to_event()
        await broker.publish(expired)
        await eventually(lambda: has_depth(broker, parking_queue_name(ORDER_PAYMENTS.queue), 1))
        await consumer.stop()

        result = await tool(settings.url, "list", "--json")
    finally:
        await broker.close()
        await management.delete(f"/api/vhosts/{vhost}")
        await management.aclose()

    assert result.code == 0, result.err
    (listed,) = result.json()["messages"]
    assert (listed["queue"], listed["event_id"]) == (ORDER_PAYMENTS.queue, expired.id)
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
                f"/api/exchanges/%2F/{parked.broker.settings.exchange}/publish",
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
    url, queue = _url(parked.broker), parked.queue
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
