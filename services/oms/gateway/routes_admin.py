"""Admin routes, behind the bearer token: the menu's items and the stock on hand."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import SecretStr

from oms.contracts.v1 import common_pb2, menu_pb2
from oms.gateway.auth import require_admin
from oms.gateway.clients import Backends
from oms.gateway.errors import ApiError, documented
from oms.gateway.schemas import (
    ITEM_ID_PATTERN,
    AdminMenu,
    AdminMenuItem,
    ItemId,
    MenuItemIn,
    OfferedIn,
    StockIn,
    StockLevel,
    StockLevels,
)

ItemPath = Annotated[str, Path(pattern=ITEM_ID_PATTERN)]


def router(backends: Backends, admin_token: SecretStr) -> APIRouter:
    admin = APIRouter(
        prefix="/api/admin",
        tags=["admin"],
        dependencies=[Depends(require_admin(admin_token))],
        responses=documented(401, 403, 502, 503),
    )

    @admin.get("/menu/items")
    async def list_items() -> AdminMenu:
        """Every item, including those not offered now."""
        items = await backends.menu.list_items(offered_only=False)
        return AdminMenu(items=[AdminMenuItem.from_proto(item) for item in items])

    @admin.put("/menu/items/{item_id}", responses=documented(413, 422))
    async def put_item(item_id: ItemPath, body: MenuItemIn) -> AdminMenuItem:
        """Create or replace an item."""
        item = menu_pb2.MenuItem(
            id=item_id,
            name=body.name,
            description=body.description,
            price=common_pb2.Money(amount_minor=body.price, currency=body.currency),
            offered=body.offered,
        )
        return AdminMenuItem.from_proto(await backends.menu.upsert(item))

    @admin.put("/menu/items/{item_id}/offered", responses=documented(404, 413, 422))
    async def set_offered(item_id: ItemPath, body: OfferedIn) -> AdminMenuItem:
        """Put an item on the menu or take it off."""
        return AdminMenuItem.from_proto(await backends.menu.set_offered(item_id, body.offered))

    @admin.get("/stock", responses=documented(422))
    async def stock_levels(
        item_id: Annotated[list[ItemId] | None, Query(max_length=200)] = None,
    ) -> StockLevels:
        """On hand, reserved and available per item (all items, or the `item_id`s given)."""
        levels = await backends.stock.levels(item_id or [])
        return StockLevels(levels=[StockLevel.from_proto(level) for level in levels])

    @admin.put("/stock/{item_id}", responses=documented(404, 413, 422))
    async def set_stock(item_id: ItemPath, body: StockIn) -> StockLevel:
        """Set the quantity on hand (a restock or a count); 422 if below what is reserved."""
        if not await backends.menu.exists(item_id):
            raise ApiError(404, "not_found", f"no menu item {item_id!r}")
        return StockLevel.from_proto(await backends.stock.set_level(item_id, body.on_hand))

    return admin
