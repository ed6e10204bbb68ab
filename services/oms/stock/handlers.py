"""Stock use cases: reserve all-or-nothing, release, commit; each idempotent per order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from oms.order_lines import Line, merge_lines
from oms.platform import logs
from oms.platform.errors import FailedPrecondition, InvalidArgument
from oms.stock.domain import ReservationState, Shortage
from oms.stock.repository import MongoStockRepository

log = logs.get(__name__)
R = ReservationState


def _lines(record: dict[str, Any]) -> list[Line]:
    return [Line(line["item_id"], line["quantity"]) for line in record["lines"]]


class StockHandlers:
    def __init__(self, repository: MongoStockRepository) -> None:
        self.repository = repository

    async def check(self, lines: Sequence[Line]) -> list[Shortage]:
        """The lines that could not be reserved right now (a read: nothing is held)."""
        merged = merge_lines(lines)
        available = await self.repository.available_many([line.item_id for line in merged])
        return [
            Shortage(line.item_id, line.quantity, available.get(line.item_id, 0))
            for line in merged
            if available.get(line.item_id, 0) < line.quantity
        ]

    async def reserve(self, order_id: str, lines: Sequence[Line]) -> list[Shortage]:
        """Hold every line or none; returns the shortages (empty when reserved).

        A reservation that was held is final for the order (repeats return it); a refused one
        holds nothing and is not remembered, so the same order may try again later.
        """
        if not order_id:
            raise InvalidArgument("order_id is required")
        wanted = merge_lines(lines)
        record = await self.repository.reservation(order_id)
        if record is None or R(record["state"]) is R.REJECTED:
            # Most refusals are seen by a read, without writing (and queueing behind) anything.
            if shortages := await self.check(wanted):
                return shortages
        record = await self.repository.start_reservation(order_id, wanted)
        state = R(record["state"])
        if state is R.RESERVED:
            return []
        if state in (R.RELEASED, R.COMMITTED):
            raise FailedPrecondition(f"the reservation of order {order_id} is {state}")
        # RESERVING: new, or a retry after a crash; holds are idempotent, so redo them all.
        return await self._hold_all(order_id, _lines(record))

    async def _hold_all(self, order_id: str, wanted: Sequence[Line]) -> list[Shortage]:
        held: list[Line] = []
        shortages: list[Shortage] = []
        for line in wanted:
            if await self.repository.hold(order_id, line):
                held.append(line)
            else:
                available = await self.repository.available(line.item_id)
                shortages.append(Shortage(line.item_id, line.quantity, available))
        if shortages:
            for line in held:
                await self.repository.unhold(order_id, line)
            await self.repository.set_state(order_id, R.REJECTED, [R.RESERVING], shortages)
            log.info("stock.rejected", order_id=order_id, short=[s.item_id for s in shortages])
            return shortages
        await self.repository.set_state(order_id, R.RESERVED, [R.RESERVING])
        return []

    async def release(self, order_id: str, reason: str) -> bool:
        record = await self.repository.reservation(order_id)
        if record is None:
            return False
        state = R(record["state"])
        if state is R.COMMITTED:
            raise FailedPrecondition(f"order {order_id} is paid; its stock cannot be released")
        if state in (R.RELEASED, R.REJECTED):
            return state is R.RELEASED
        for line in _lines(record):
            await self.repository.unhold(order_id, line)
        await self.repository.set_state(order_id, R.RELEASED, [R.RESERVING, R.RESERVED])
        log.info("stock.released", order_id=order_id, reason=reason)
        return True

    async def commit(self, order_id: str) -> bool:
        record = await self.repository.reservation(order_id)
        if record is None:
            raise FailedPrecondition(f"order {order_id} has no reservation")
        state = R(record["state"])
        if state is R.COMMITTED:
            return True
        if state is not R.RESERVED:
            raise FailedPrecondition(f"the reservation of order {order_id} is {state}")
        for line in _lines(record):
            await self.repository.consume_hold(order_id, line)
        await self.repository.set_state(order_id, R.COMMITTED, [R.RESERVED])
        return True
