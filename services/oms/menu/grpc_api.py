"""MenuService over gRPC: protobuf in, domain calls, protobuf out."""

from __future__ import annotations

from typing import Any

from oms.contracts.v1 import common_pb2, menu_pb2, menu_pb2_grpc
from oms.menu.domain import MenuItem
from oms.menu.repository import MenuRepository
from oms.platform.errors import InvalidArgument, NotFound

MAX_IDS = 200


def to_proto(item: MenuItem) -> menu_pb2.MenuItem:
    return menu_pb2.MenuItem(
        id=item.id,
        name=item.name,
        description=item.description,
        price=common_pb2.Money(amount_minor=item.price_minor, currency=item.currency),
        offered=item.offered,
    )


class MenuApi(menu_pb2_grpc.MenuServiceServicer):
    def __init__(self, repository: MenuRepository) -> None:
        self.repository = repository

    async def ListItems(
        self, request: menu_pb2.ListItemsRequest, context: Any
    ) -> menu_pb2.ListItemsResponse:
        items = await self.repository.all(offered_only=request.offered_only)
        return menu_pb2.ListItemsResponse(items=[to_proto(item) for item in items])

    async def GetItems(
        self, request: menu_pb2.GetItemsRequest, context: Any
    ) -> menu_pb2.GetItemsResponse:
        ids = list(dict.fromkeys(request.ids))
        if len(ids) > MAX_IDS:
            raise InvalidArgument(f"at most {MAX_IDS} ids per call")
        found = await self.repository.get_many(ids)
        known = {item.id for item in found}
        return menu_pb2.GetItemsResponse(
            items=[to_proto(item) for item in found],
            unknown_ids=[item_id for item_id in ids if item_id not in known],
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
        await self.repository.save(item)
        return to_proto(item)

    async def SetItemOffered(
        self, request: menu_pb2.SetItemOfferedRequest, context: Any
    ) -> menu_pb2.MenuItem:
        item = await self.repository.set_offered(request.id, request.offered)
        if item is None:
            raise NotFound(f"no menu item {request.id!r}")
        return to_proto(item)
