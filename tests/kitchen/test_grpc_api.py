"""KitchenService over real gRPC: what the staff screens see of the cooks and the tickets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest

from oms.contracts.v1 import kitchen_pb2, kitchen_pb2_grpc
from oms.kitchen.grpc_api import KitchenApi
from oms.kitchen.handlers import Kitchen
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import GrpcSettings
from tests.kitchen.conftest import KitchenWorld, confirmed, cooking, refunded


@pytest.fixture
def kitchen(world: KitchenWorld) -> Kitchen:
    return world.kitchen(workers=2, per_item=60)


@pytest.fixture
async def service(
    world: KitchenWorld, kitchen: Kitchen
) -> AsyncIterator[kitchen_pb2_grpc.KitchenServiceAsyncStub]:
    server = GrpcServer(GrpcSettings(port=0), service_names=[])
    api = KitchenApi(kitchen)
    kitchen_pb2_grpc.add_KitchenServiceServicer_to_server(api, server.server)
    await server.start()
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield kitchen_pb2_grpc.KitchenServiceStub(channel)
    await server.server.stop(0)


async def test_the_cooks_and_a_ticket_as_the_screens_see_them(
    world: KitchenWorld, kitchen: Kitchen, service: kitchen_pb2_grpc.KitchenServiceAsyncStub
) -> None:
    order = confirmed()
    task = cooking(kitchen, order)
    await world.started(order.order_id)

    status = await service.GetStatus(kitchen_pb2.GetStatusRequest())
    ticket = await service.GetTicket(kitchen_pb2.GetTicketRequest(order_id=order.order_id))
    await kitchen.void(refunded(order.order_id))
    await task
    voided = await service.GetTicket(kitchen_pb2.GetTicketRequest(order_id=order.order_id))

    assert (status.workers, status.busy_workers) == (2, 1)
    assert list(status.cooking_order_ids) == [order.order_id]
    assert (ticket.status, ticket.attempts) == (kitchen_pb2.TICKET_STATUS_PREPARING, 1)
    assert ticket.worker.startswith("k1/cook-")
    assert voided.status == kitchen_pb2.TICKET_STATUS_VOIDED


async def test_a_ticket_nobody_started_is_not_found(
    service: kitchen_pb2_grpc.KitchenServiceAsyncStub,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as unknown:
        await service.GetTicket(kitchen_pb2.GetTicketRequest(order_id="not-cooked"))
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await service.GetTicket(kitchen_pb2.GetTicketRequest())

    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    assert missing.value.code() is grpc.StatusCode.INVALID_ARGUMENT
