"""MenuService over real gRPC: what Order's cache and the gateway's admin routes get back,
and the status codes of the refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable

import grpc
import pytest

from oms.contracts.v1 import common_pb2, menu_pb2, menu_pb2_grpc
from oms.menu.grpc_api import MenuApi
from oms.menu.handlers import MAX_IDS
from oms.platform.grpc_server import GrpcServer
from oms.platform.settings import GrpcSettings
from tests.menu.conftest import MenuWorld


@pytest.fixture
async def menu(world: MenuWorld) -> AsyncIterator[menu_pb2_grpc.MenuServiceAsyncStub]:
    server = GrpcServer(GrpcSettings(port=0), service_names=[])
    menu_pb2_grpc.add_MenuServiceServicer_to_server(MenuApi(world.handlers), server.server)
    await server.start()
    async with grpc.aio.insecure_channel(server.address) as channel:
        yield menu_pb2_grpc.MenuServiceStub(channel)
    await server.server.stop(0)


def _item(item_id: str, price: int = 950, currency: str = "EUR") -> menu_pb2.MenuItem:
    money = common_pb2.Money(amount_minor=price, currency=currency)
    return menu_pb2.MenuItem(id=item_id, name="Diavola", price=money, offered=True)


async def test_an_item_upserted_is_read_back_the_same(
    menu: menu_pb2_grpc.MenuServiceAsyncStub, world: MenuWorld
) -> None:
    stored = await menu.UpsertItem(menu_pb2.UpsertItemRequest(item=_item("diavola")))

    listed = await menu.ListItems(menu_pb2.ListItemsRequest(offered_only=True))
    got = await menu.GetItems(menu_pb2.GetItemsRequest(ids=["diavola", "ghost"]))

    assert stored == _item("diavola")
    assert list(listed.items) == [stored]
    assert (list(got.items), list(got.unknown_ids)) == ([stored], ["ghost"])
    assert await world.changed() == ["diavola"]


async def test_refusals_have_their_status_codes(
    menu: menu_pb2_grpc.MenuServiceAsyncStub, world: MenuWorld
) -> None:
    too_many = [f"item-{n}" for n in range(MAX_IDS + 1)]
    refusals: list[tuple[Awaitable[object], grpc.StatusCode]] = [
        (menu.UpsertItem(_upsert(_item("diavola", -1))), grpc.StatusCode.INVALID_ARGUMENT),
        (menu.UpsertItem(_upsert(menu_pb2.MenuItem(id="x"))), grpc.StatusCode.INVALID_ARGUMENT),
        (menu.UpsertItem(_upsert(_item("Diavola!"))), grpc.StatusCode.INVALID_ARGUMENT),
        (menu.GetItems(menu_pb2.GetItemsRequest(ids=too_many)), grpc.StatusCode.INVALID_ARGUMENT),
        (
            menu.SetItemOffered(menu_pb2.SetItemOfferedRequest(id="ghost", offered=False)),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]

    for call, code in refusals:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() is code
        assert refused.value.details()

    assert await world.changed() == []


def _upsert(item: menu_pb2.MenuItem) -> menu_pb2.UpsertItemRequest:
    return menu_pb2.UpsertItemRequest(item=item)
