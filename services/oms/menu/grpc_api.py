"""MenuService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import common_pb2, menu_pb2, menu_pb2_grpc
from oms.menu.domain import MenuItem
from oms.menu.handlers import MenuHandlers
from oms.platform.grpc_server import Api, Contract


def to_proto(item: MenuItem) -> menu_pb2.MenuItem:
    return menu_pb2.MenuItem(
        id=item.id,
        name=item.name,
        description=item.description,
        price=common_pb2.Money(amount_minor=item.price_minor, currency=item.currency),
        offered=item.offered,
    )


class MenuApi(Api[MenuHandlers], menu_pb2_grpc.MenuServiceServicer):
    async def ListItems(
        self, request: menu_pb2.ListItemsRequest, context: Any
    ) -> menu_pb2.ListItemsResponse:
        items = await self.handlers.list_items(offered_only=request.offered_only)
        return menu_pb2.ListItemsResponse(items=[to_proto(item) for item in items])

    async def GetItems(
        self, request: menu_pb2.GetItemsRequest, context: Any
    ) -> menu_pb2.GetItemsResponse:
        found, unknown = await self.handlers.get_items(list(request.ids))
        return menu_pb2.GetItemsResponse(
            items=[to_proto(item) for item in found], unknown_ids=unknown
        )

    async def UpsertItem(
        self, request: menu_pb2.UpsertItemRequest, context: Any
    ) -> menu_pb2.MenuItem:
        proto = request.item
        item = MenuItem(
            id=proto.id,
            name=proto.name,
            description=proto.description,
            price_minor=proto.price.amount_minor,
            currency=proto.price.currency,
            offered=proto.offered,
        )
        return to_proto(await self.handlers.upsert(item))

    async def SetItemOffered(
        self, request: menu_pb2.SetItemOfferedRequest, context: Any
    ) -> menu_pb2.MenuItem:
        return to_proto(await self.handlers.set_offered(request.id, request.offered))


CONTRACT = Contract(menu_pb2.DESCRIPTOR, menu_pb2_grpc.add_MenuServiceServicer_to_server)
