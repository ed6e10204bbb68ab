"""Staff routes, behind the admin token: the menu, the stock, and every order.

Staff actions on orders (refund, void, picked up) ask Order, which decides: a refund is
refused once the order is ready, a void once it is paid.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from oms.contracts.v1 import common_pb2, menu_pb2
from oms.gateway.auth import StaffAuth
from oms.gateway.clients import Backends
from oms.gateway.errors import ApiError, documented
from oms.gateway.schemas import (
    STATUS_CODE,
    AdminMenu,
    AdminMenuItem,
    ItemId,
    MenuItemIn,
    OfferedIn,
    Order,
    OrderStatus,
    ReasonIn,
    StaffOrderPage,
    StockIn,
    StockLevel,
    StockLevels,
)
from oms.limits import ID_PATTERN, ITEM_ID_PATTERN, MAX_PAGE_SIZE

ItemPath = Annotated[str, Path(pattern=ITEM_ID_PATTERN)]
OrderPath = Annotated[str, Path(pattern=ID_PATTERN)]


def router(backends: Backends, staff: StaffAuth) -> APIRouter:
    admin = APIRouter(
        prefix="/api/admin",
        tags=["admin"],
        dependencies=[staff.required()],
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

    @admin.get("/orders", responses=documented(422))
    async def all_orders(
        status: Annotated[list[OrderStatus] | None, Query(max_length=9)] = None,
        q: Annotated[str, Query(max_length=64, description="Order or customer id prefix.")] = "",
        page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
        page_token: Annotated[str, Query(max_length=256)] = "",
    ) -> StaffOrderPage:
        """Every order, newest first; only some statuses, or matching `q`, if asked."""
        statuses = [STATUS_CODE[s] for s in status or []]
        page = await backends.order.list_all(statuses, q, page_size, page_token)
        return StaffOrderPage(
            orders=[Order.from_proto(order) for order in page.orders],
            next_page_token=page.next_page_token or None,
        )

    @admin.get("/orders/{order_id}", responses=documented(404, 422))
    async def one_order(order_id: OrderPath) -> Order:
        return Order.from_proto(await backends.order.get(order_id))

    @admin.post("/orders/{order_id}/refund", responses=documented(404, 409, 413, 422))
    async def refund(order_id: OrderPath, body: ReasonIn) -> Order:
        """Give a paid order's money back before it is ready (409 otherwise)."""
        return Order.from_proto(await backends.order.refund(order_id, body.reason))

    @admin.post("/orders/{order_id}/void", responses=documented(404, 409, 413, 422))
    async def void(order_id: OrderPath, body: ReasonIn) -> Order:
        """Cancel an unpaid order (409 once paid)."""
        return Order.from_proto(await backends.order.void(order_id, body.reason))

    @admin.post("/orders/{order_id}/pick-up", responses=documented(404, 409, 422))
    async def pick_up(order_id: OrderPath) -> Order:
        """The customer took it (the kitchen display's bump); 409 unless ready."""
        return Order.from_proto(await backends.order.pick_up(order_id))

    return admin
