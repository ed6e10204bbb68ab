"""Stock in MongoDB, exact under concurrency and crashes with single-document atomicity only.

`stock_items`: `{_id: item, stock: {on_hand, available}, ops: {"<order>:<op>": at}}`. An
effect on an item's counters is one conditional update that also sets its marker in `ops`,
and matches only while that marker is absent, so applying it again changes nothing; an
operation sends the updates for all its lines in one bulk write. Markers
live only while their operation is in progress: once the reservation records the outcome, the
marker is removed by this process's next write to the item (or a flush shortly after), so an
item document stays small however many orders hold it.

`stock_reservations`: `{_id: order, lines, state: {status, claimed_at, from}}`, one per order,
whose compare-and-set state machine (`oms.stock.domain`) decides which caller applies an
operation's effects. Every filter is `_id` plus dotted conditions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from pymongo import ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from oms.order_lines import Line
from oms.platform import logs
from oms.platform.mongo import Document
from oms.stock.domain import DELTAS, Level, Op, R, Reservation

log = logs.get(__name__)


# How often setting an item's level is tried while sales keep changing what is on hand.
SET_ATTEMPTS = 20


class ItemBusy(Exception):
    """An item's level changed under every attempt to set it."""


class StockRepository(Protocol):
    async def levels(self, item_ids: Sequence[str]) -> list[Level]: ...
    async def level(self, item_id: str) -> Level | None: ...
    async def set_on_hand(self, item_id: str, on_hand: int) -> Level | None: ...
    async def add_item(self, item_id: str, on_hand: int) -> bool: ...
    async def apply_all(
        self, order_id: str, op: Op, lines: Sequence[tuple[str, int]], at: datetime
    ) -> list[str]: ...
    async def undo_hold(self, item_id: str, order_id: str, quantity: int) -> None: ...
    def prune_later(self, order_id: str, op: Op, item_ids: Sequence[str]) -> None: ...
    async def start(self, order_id: str, lines: Sequence[Line], at: datetime) -> None: ...
    async def get(self, order_id: str) -> Reservation | None: ...
    async def claim(
        self,
        order_id: str,
        current: R,
        to: R,
        at: datetime,
        *,
        claimed_at: datetime | None = None,
        lines: Sequence[Line] | None = None,
    ) -> Reservation | None: ...
    async def finish(
        self, order_id: str, working: R, to: R, *, claimed_at: datetime | None = None
    ) -> bool: ...


def _marker(order_id: str, op: Op) -> str:
    return f"ops.{order_id}:{op.value}"


def _level(doc: Document) -> Level:
    return Level(doc["_id"], doc["stock"]["on_hand"], doc["stock"]["available"])


def _reservation(doc: Document) -> Reservation:
    state = doc["state"]
    return Reservation(
        order_id=doc["_id"],
        state=R(state["status"]),
        lines=tuple((line["item_id"], line["quantity"]) for line in doc["lines"]),
        claimed_at=state["claimed_at"],
        came_from=R(state["from"]) if state.get("from") else None,
    )


class MongoStockRepository:
    def __init__(self, db: AsyncDatabase[Document], flush_after_seconds: float = 1.0) -> None:
        self.items = db.stock_items
        self.reservations = db.stock_reservations
        self.flush_after_seconds = flush_after_seconds
        self._prunable: dict[str, set[str]] = {}
        self._flush: asyncio.Task[None] | None = None

    # --- items ----------------------------------------------------------------------------

    async def levels(self, item_ids: Sequence[str]) -> list[Level]:
        # Bounded by the menu, not by orders: the only query here that is not by `_id`.
        query = {"_id": {"$in": list(item_ids)}} if item_ids else {}
        projection = {"stock": 1}
        return [_level(doc) async for doc in self.items.find(query, projection).sort("_id", 1)]

    async def level(self, item_id: str) -> Level | None:
        doc = await self.items.find_one({"_id": item_id}, {"stock": 1})
        return _level(doc) if doc else None

    async def add_item(self, item_id: str, on_hand: int) -> bool:
        """Start stocking an item; False if it is stocked already."""
        try:
            await self.items.insert_one(
                {"_id": item_id, "stock": {"on_hand": on_hand, "available": on_hand}, "ops": {}}
            )
        except DuplicateKeyError:
            return False
        return True

    async def set_on_hand(self, item_id: str, on_hand: int) -> Level | None:
        """Set what is on hand, keeping what orders hold; None if it would drop below that.

        The write moves both counters by the same amount, on the condition that on hand is
        still what was read and enough stays available: holds and releases (which change
        only `available`) landing in between do not disturb it, and are kept exactly.
        """
        for _ in range(SET_ATTEMPTS):  # retry only when a sale or a return changed on hand
            level = await self.level(item_id)
            if level is None:
                if await self.add_item(item_id, on_hand):
                    return Level(item_id, on_hand, on_hand)
                continue
            delta = on_hand - level.on_hand
            if level.available + delta < 0:
                return None
            doc = await self.items.find_one_and_update(
                {
                    "_id": item_id,
                    "stock.on_hand": level.on_hand,
                    "stock.available": {"$gte": -delta},
                },
                {"$inc": {"stock.on_hand": delta, "stock.available": delta}},
                return_document=ReturnDocument.AFTER,
            )
            if doc is not None:
                return _level(doc)
        raise ItemBusy(f"the stock of {item_id} kept changing; try again")

    async def apply_all(
        self, order_id: str, op: Op, lines: Sequence[tuple[str, int]], at: datetime
    ) -> list[str]:
        """Apply `op` for the order once to each (item, quantity), in one round trip; the
        items a hold found too little available on (always none for other operations)."""
        marker = _marker(order_id, op)
        requests: list[UpdateOne] = []
        taken: dict[str, set[str]] = {}
        for item_id, quantity in lines:
            query: dict[str, Any] = {"_id": item_id, marker: {"$exists": False}}
            if op is Op.HOLD:
                query["stock.available"] = {"$gte": quantity}
            update: dict[str, Any] = {
                "$inc": {f"stock.{k}": per_unit * quantity for k, per_unit in DELTAS[op].items()},
                "$set": {marker: at},
            }
            prunable = taken[item_id] = self._prunable.pop(item_id, set())
            if prunable:
                update["$unset"] = dict.fromkeys(prunable, "")
            requests.append(UpdateOne(query, update))
        try:
            result = await self.items.bulk_write(requests, ordered=True)
        except BaseException:
            self._keep_all_for_later(taken)
            raise
        if result.matched_count == len(requests):
            return []
        # Which ones matched is not said: their markers tell (a marker also means the effect
        # was applied before, by a retry or by a dead attempt taken over). Markers that a
        # write which did happen took along are unset again later, which is harmless.
        self._keep_all_for_later(taken)
        short = []
        for item_id, _ in lines:
            marked = {"_id": item_id, marker: {"$exists": True}}
            if await self.items.find_one(marked, {"_id": 1}) is not None:
                continue
            if op is not Op.HOLD:
                raise RuntimeError(f"stock item {item_id} does not exist")
            short.append(item_id)
        return short

    async def undo_hold(self, item_id: str, order_id: str, quantity: int) -> None:
        """Give back a hold whose marker is still there (a refused or abandoned reservation)."""
        marker = _marker(order_id, Op.HOLD)
        await self.items.update_one(
            {"_id": item_id, marker: {"$exists": True}},
            {"$inc": {"stock.available": quantity}, "$unset": {marker: ""}},
        )

    def prune_later(self, order_id: str, op: Op, item_ids: Sequence[str]) -> None:
        """The operation is recorded: its markers may go with the items' next writes."""
        for item_id in item_ids:
            self._keep_for_later(item_id, {_marker(order_id, op)})
        if self._flush is None or self._flush.done():
            self._flush = asyncio.create_task(self._flush_soon())

    def _keep_all_for_later(self, markers: dict[str, set[str]]) -> None:
        for item_id, taken in markers.items():
            self._keep_for_later(item_id, taken)

    def _keep_for_later(self, item_id: str, markers: set[str]) -> None:
        if markers:
            self._prunable.setdefault(item_id, set()).update(markers)

    async def _flush_soon(self) -> None:
        await asyncio.sleep(self.flush_after_seconds)
        await self.flush()

    async def flush(self) -> None:
        """Remove, in one bulk write, the markers no write has taken along yet (if it fails,
        they stay for later)."""
        due, self._prunable = self._prunable, {}
        if not due:
            return
        unsets = [
            UpdateOne({"_id": item_id}, {"$unset": dict.fromkeys(markers, "")})
            for item_id, markers in due.items()
        ]
        try:
            await self.items.bulk_write(unsets, ordered=False)
        except Exception:
            log.warning("stock.prune_failed", items=sorted(due), exc_info=True)
            self._keep_all_for_later(due)

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        await self.flush()

    # --- reservations ---------------------------------------------------------------------

    async def start(self, order_id: str, lines: Sequence[Line], at: datetime) -> None:
        """A new reservation, claimed for reserving (DuplicateKeyError if the order has one)."""
        await self.reservations.insert_one(
            {
                "_id": order_id,
                "lines": [{"item_id": line.item_id, "quantity": line.quantity} for line in lines],
                "state": {"status": R.RESERVING.value, "claimed_at": at, "from": ""},
            }
        )

    async def get(self, order_id: str) -> Reservation | None:
        doc = await self.reservations.find_one({"_id": order_id})
        return _reservation(doc) if doc else None

    async def claim(
        self,
        order_id: str,
        current: R,
        to: R,
        at: datetime,
        *,
        claimed_at: datetime | None = None,
        lines: Sequence[Line] | None = None,
    ) -> Reservation | None:
        """Claim the operation `to` on a reservation in `current` (with `claimed_at`: only if
        that is still its claim, to take over from a dead owner); None if another won."""
        query: dict[str, Any] = {"_id": order_id, "state.status": current.value}
        if claimed_at is not None:
            query["state.claimed_at"] = claimed_at
        fields: dict[str, Any] = {"state.status": to.value, "state.claimed_at": at}
        if to is not current:
            fields["state.from"] = current.value
        if lines is not None:
            fields["lines"] = [{"item_id": x.item_id, "quantity": x.quantity} for x in lines]
        doc = await self.reservations.find_one_and_update(
            query, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return _reservation(doc) if doc else None

    async def finish(
        self, order_id: str, working: R, to: R, *, claimed_at: datetime | None = None
    ) -> bool:
        """Record that `working` ended in `to`; with `claimed_at`, only while that claim is
        the reservation's (a successor that took over has claimed it anew)."""
        query: dict[str, Any] = {"_id": order_id, "state.status": working.value}
        if claimed_at is not None:
            query["state.claimed_at"] = claimed_at
        result = await self.reservations.update_one(query, {"$set": {"state.status": to.value}})
        return result.matched_count == 1
