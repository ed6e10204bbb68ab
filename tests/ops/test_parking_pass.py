"""A pass over a parking queue holds what it read until it settles each message exactly once."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from aio_pika.abc import AbstractConnection

from oms.ops.parking_pass import ParkingPass, UnknownQueue, connect
from oms.platform.broker import Broker
from tests.ops.parked_samples import Parked, depth


@pytest.fixture
async def connection(broker: Broker) -> AsyncIterator[AbstractConnection]:
    opened = await connect(broker.settings.url)
    yield opened
    await opened.close()


async def test_a_pass_reads_each_message_once_and_gives_back_what_it_did_not_settle(
    connection: AbstractConnection, parked: Parked
) -> None:
    async with ParkingPass(connection, parked.queue) as first:
        ids = [message.event_id for message in first.messages]
        assert ids == [parked.paid.id, parked.cancelled.id, parked.malformed_id]
        # Held, so nobody else (another operator's pass) can read them meanwhile.
        async with ParkingPass(connection, parked.queue) as second:
            assert second.messages == []
            with pytest.raises(RuntimeError, match="not held by this pass"):
                await second.remove(first.messages[0])
        await first.remove(first.messages[1])
        with pytest.raises(RuntimeError, match="not held by this pass"):
            await first.replay(first.messages[1])

    async with ParkingPass(connection, parked.queue) as again:
        assert [m.event_id for m in again.messages] == [parked.paid.id, parked.malformed_id]
    assert await depth(parked.broker, parked.parking_queue) == 2


async def test_a_pass_that_fails_midway_leaves_every_message_parked(
    connection: AbstractConnection, parked: Parked
) -> None:
    with pytest.raises(ZeroDivisionError):
        async with ParkingPass(connection, parked.queue):
            1 / 0  # noqa: B018 - any failure while the messages are held

    assert await depth(parked.broker, parked.parking_queue) == 3


async def test_a_queue_without_a_parking_queue_is_unknown(connection: AbstractConnection) -> None:
    with pytest.raises(UnknownQueue, match=re.escape("no parking queue 'no.such.queue.parking'")):
        async with ParkingPass(connection, "no.such.queue"):
            pass
