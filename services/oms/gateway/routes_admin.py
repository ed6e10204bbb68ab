"""Staff routes, behind the admin token: the menu, the stock, and every order.

Staff actions on orders (refund, void, picked up) ask Order, which decides: a refund is
refused once the order is ready, a void once it is paid. A change to the menu or the stock
drops this gateway's menu cache at once (other gateways hear of it from `menu.changed`), so
the staff see their change on the menu they are looking at.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query

from oms.gateway.auth import StaffAuth
from oms.gateway.catalog import Catalog
from oms.gateway.clients import Backends
from oms.gateway.errors import ApiError, documented
from oms.gateway.params import ItemId, OrderId, PageSize, PageToken
from oms.gateway.schemas import (
    STATUS,
    AdminMenu,
    AdminMenuItem,
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
from oms.gateway.schemas import ItemId as ItemIdValue
from oms.limits import ID_PREFIX_PATTERN, MAX_ITEM_IDS

Statuses = Annotated[
    list[OrderStatus],
    Query(
        max_length=len(STATUS), default_factory=list, description="Only orders in these statuses."
    ),
]
OrderQuery = Annotated[
    str, Query(pattern=ID_PREFIX_PATTERN, description="The start of an order or customer id.")
]
ItemIds = Annotated[
    list[ItemIdValue],
    Query(
        max_length=MAX_ITEM_IDS,
        default_factory=list,
        description="Only these items (all items without it).",
    ),
]
Reason = Annotated[ReasonIn | None, Body(description="Why (optional), kept on the order.")]
ACTION_ERRORS = documented(404, 409, 413)


def router(backends: Backends, catalog: Catalog, staff: StaffAuth) -> APIRouter:
    admin = APIRouter(
        prefix="/api/admin",
        tags=["admin"],
        dependencies=[staff.required()],
        responses=documented(401, 403, 422, 502, 503),
    )

    @admin.get("/menu/items")
    async def list_items() -> AdminMenu:
        """Every item, including those not offered now."""
        items = await backends.menu.list_items(offered_only=False)
        return AdminMenu(items=[AdminMenuItem.from_proto(item) for item in items])

    @admin.put("/menu/items/{item_id}", responses=documented(413))
    async def put_item(item_id: ItemId, body: MenuItemIn) -> AdminMenuItem:
        """Create or replace an item."""
        item = await backends.menu.upsert(item_id, body)
        catalog.forget()
        return AdminMenuItem.from_proto(item)

    @admin.put("/menu/items/{item_id}/offered", responses=documented(404, 413))
    async def set_offered(item_id: ItemId, body: OfferedIn) -> AdminMenuItem:
        """Put an item on the menu or take it off."""
        item = await backends.menu.set_offered(item_id, body.offered)
        catalog.forget()
        return AdminMenuItem.from_proto(item)

    @admin.get("/stock")
    async def stock_levels(item_id: ItemIds) -> StockLevels:
        """On hand, reserved and available per item (all items, or the `item_id`s given)."""
        levels = await backends.stock.levels(item_id)
        return StockLevels(levels=[StockLevel.from_proto(level) for level in levels])

    @admin.put("/stock/{item_id}", responses=documented(404, 413))
    async def set_stock(item_id: ItemId, body: StockIn) -> StockLevel:
        """Set the quantity on hand (a restock or a count); 422 if below what is reserved."""
        if not await backends.menu.exists(item_id):
            raise ApiError(404, "not_found", f"no menu item {item_id!r}")
        level = await backends.stock.set_level(item_id, body.on_hand)
        catalog.forget()  # `sold_out` may have changed
        return StockLevel.from_proto(level)

    @admin.get("/orders")
    async def all_orders(
        status: Statuses,
        q: OrderQuery = "",
        page_size: PageSize = 20,
        page_token: PageToken = "",
    ) -> StaffOrderPage:
        """Every order, newest first; only some statuses, or matching `q`, if asked."""
        page = await backends.order.list_all(status, q, page_size, page_token)
        return StaffOrderPage(
            orders=[Order.from_proto(order) for order in page.orders],
            next_page_token=page.next_page_token or None,
        )

    @admin.get("/orders/{order_id}", responses=documented(404))
    async def one_order(order_id: OrderId) -> Order:
        return Order.from_proto(await backends.order.get(order_id))

    @admin.post("/orders/{order_id}/refund", responses=ACTION_ERRORS)
    async def refund(order_id: OrderId, body: Reason = None) -> Order:
        """Give a paid order's money back before it is ready (409 otherwise)."""
        reason = body.reason if body else ""
        return Order.from_proto(await backends.order.refund(order_id, reason))

    @admin.post("/orders/{order_id}/void", responses=ACTION_ERRORS)
    async def void(order_id: OrderId, body: Reason = None) -> Order:
        """Cancel an unpaid order (409 once paid)."""
        reason = body.reason if body else ""
        return Order.from_proto(await backends.order.void(order_id, reason))

    @admin.post("/orders/{order_id}/pick-up", responses=documented(404, 409))
    async def pick_up(order_id: OrderId) -> Order:
        """The customer took it (the kitchen display's bump); 409 unless ready."""
        return Order.from_proto(await backends.order.pick_up(order_id))

    return admin
