"""Stock use cases: reserve all-or-nothing, release, commit, and what a refund does to stock.

Every operation on a reservation runs the same way: one caller claims it with a
compare-and-set into its in-progress state (`reserving`, `releasing`, `committing`,
`returning`), applies the effect to each line's item once (a marked, conditional update), and
records the outcome. A caller that finds an operation in progress leaves it to its owner
(UNAVAILABLE: try again), unless the claim is older than `takeover_after`, when the owner is
taken to be dead and the operation is finished for it; the markers make that safe. An owner
never writes (an effect, a rollback or the outcome) later than half of `takeover_after` after
its claim, and records the outcome only while the claim is still its own, so a slow owner and
its successor never both apply an effect, and neither undoes the other's.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

from pymongo.errors import DuplicateKeyError

from oms import seed_file
from oms.limits import MAX_ON_HAND
from oms.order_lines import Line, merge_lines
from oms.platform import logs
from oms.platform.clock import Clock, utc_now
from oms.platform.errors import FailedPrecondition, InvalidArgument, Unavailable
from oms.stock.domain import EFFECT, FINISHES, Level, R, Reservation, Shortage
from oms.stock.repository import ItemBusy, StockRepository

log = logs.get(__name__)


class StockHandlers:
    def __init__(
        self,
        repository: StockRepository,
        takeover_after: timedelta = timedelta(seconds=60),
        clock: Clock = utc_now,
    ) -> None:
        self.repository = repository
        self.takeover_after = takeover_after
        self.clock = clock

    # --- levels -------------------------------------------------------------------------

    async def levels(self, item_ids: Sequence[str]) -> list[Level]:
        return await self.repository.levels(item_ids)

    async def set_on_hand(self, item_id: str, on_hand: int) -> Level:
        if not item_id:
            raise InvalidArgument("item_id is required")
        if not 0 <= on_hand <= MAX_ON_HAND:
            raise InvalidArgument(f"on_hand must be 0..{MAX_ON_HAND}")
        try:
            level = await self.repository.set_on_hand(item_id, on_hand)
        except ItemBusy as exc:
            raise Unavailable(str(exc)) from exc
        if level is None:
            raise InvalidArgument(f"orders hold more of {item_id} than {on_hand}")
        return level

    async def seed(self, path: str) -> int:
        """Stock the seed file's items that have no stock yet (edits made since survive)."""
        added = 0
        for item_id, quantity in seed_file.read(Path(path)).stock.items():
            added += await self.repository.add_item(item_id, quantity)
        return added

    # --- reservations -------------------------------------------------------------------

    async def reserve(self, order_id: str, lines: Sequence[Line]) -> list[Shortage]:
        """Hold every line or none; the shortages (none when held).

        A reservation that was held is final for the order (repeats return it); a refused one
        holds nothing, so the same order may try again, after a restock for instance.
        """
        if not order_id:
            raise InvalidArgument("order_id is required")
        wanted = merge_lines(lines)
        now = self.clock()
        try:
            await self.repository.start(order_id, wanted, now)
            return await self._hold_all(order_id, wanted, now)
        except DuplicateKeyError:
            pass
        reservation = await self._existing(order_id)
        if reservation.state is R.HELD:
            return []
        if reservation.state is R.REJECTED:
            claimed = await self.repository.claim(
                order_id, R.REJECTED, R.RESERVING, now, lines=wanted
            )
            if claimed is None:
                raise Unavailable(f"the reservation of order {order_id} changed; try again")
            return await self._hold_all(order_id, wanted, now)
        if reservation.state is R.RESERVING:
            taken = await self._take_over(reservation, now)
            return await self._hold_all(order_id, [Line(i, q) for i, q in taken.lines], now)
        raise FailedPrecondition(f"the reservation of order {order_id} is {reservation.state}")

    async def _hold_all(
        self, order_id: str, lines: Sequence[Line], claimed: datetime
    ) -> list[Shortage]:
        self._fence(claimed)
        pairs = [(line.item_id, line.quantity) for line in lines]
        short = await self.repository.apply_all(order_id, EFFECT[R.RESERVING], pairs, claimed)
        if short:
            held = [line for line in lines if line.item_id not in short]
            failed = next(line for line in lines if line.item_id in short)
            return await self._refuse(order_id, lines, held, failed, claimed)
        # If it was taken over, this owner leaves its holds alone: they are its successor's.
        await self._finish(order_id, R.RESERVING, R.HELD, claimed)
        self.repository.prune_later(order_id, EFFECT[R.RESERVING], [x.item_id for x in lines])
        return []

    async def _refuse(
        self,
        order_id: str,
        lines: Sequence[Line],
        held: Sequence[Line],
        failed: Line,
        claimed: datetime,
    ) -> list[Shortage]:
        """Give back what this attempt held, then record the refusal."""
        for line in held:
            self._fence(claimed)
            await self.repository.undo_hold(line.item_id, order_id, line.quantity)
        # Read after the undo: the order's own holds are not shortages.
        shortages = await self._shortages(lines, failed)
        await self._finish(order_id, R.RESERVING, R.REJECTED, claimed)
        log.info("stock.rejected", order_id=order_id, short=[s.item_id for s in shortages])
        return shortages

    async def check(self, lines: Sequence[Line]) -> list[Shortage]:
        """The lines that could not be held right now (a read: nothing is held)."""
        return await self._shortages(merge_lines(lines))

    async def _shortages(self, lines: Sequence[Line], failed: Line | None = None) -> list[Shortage]:
        """Each line short now, with what is available; and the line whose hold `failed`,
        even if its stock came back since (it is why the order was refused)."""
        shortages = []
        for line in lines:
            level = await self.repository.level(line.item_id)
            available = level.available if level else 0
            if available < line.quantity or line == failed:
                shortages.append(Shortage(line.item_id, line.quantity, available))
        return shortages

    async def release(self, order_id: str, reason: str) -> bool:
        """Give the order's stock back (cancelled, expired, never stored); False if it held none.

        FAILED_PRECONDITION once the stock was committed: a paid order's stock comes back
        only through a refund.
        """
        reservation = await self.repository.get(order_id)
        if reservation is None or reservation.state in (R.REJECTED, R.RELEASED):
            return reservation is not None and reservation.state is R.RELEASED
        done = await self._operate(reservation, {R.HELD, R.RESERVING}, R.RELEASING)
        log.info("stock.released", order_id=order_id, reason=reason)
        return done

    async def commit(self, order_id: str) -> None:
        """The order was paid: what it held is sold (on hand goes down)."""
        # The usual case first, as one compare-and-set: a held reservation, claimed.
        now = self.clock()
        claimed = await self.repository.claim(order_id, R.HELD, R.COMMITTING, now)
        if claimed is not None:
            await self._carry_out(claimed, R.COMMITTING, now)
            return
        reservation = await self._existing(order_id)
        if reservation.state in (R.COMMITTED, R.RETURNING, R.RETURNED, R.WRITTEN_OFF):
            return
        await self._operate(reservation, {R.HELD}, R.COMMITTING)

    async def refunded(self, order_id: str, stock: Literal["return", "write_off"]) -> None:
        """A paid order was refunded: its stock comes back, or stays sold (written off)."""
        reservation = await self._existing(order_id)
        if stock == "return":
            if reservation.state in (R.HELD, R.RELEASING, R.RESERVING):
                await self._operate(reservation, {R.HELD, R.RESERVING}, R.RELEASING)
                return
            if reservation.state is R.COMMITTING:
                await self._operate(reservation, {R.HELD}, R.COMMITTING)
                reservation = await self._existing(order_id)
            if reservation.state in (R.COMMITTED, R.RETURNING):
                await self._operate(reservation, {R.COMMITTED}, R.RETURNING)
            return
        if reservation.state in (R.HELD, R.COMMITTING):
            await self._operate(reservation, {R.HELD}, R.COMMITTING)
        if await self.repository.finish(order_id, R.COMMITTED, R.WRITTEN_OFF):
            log.info("stock.written_off", order_id=order_id)

    async def _existing(self, order_id: str) -> Reservation:
        reservation = await self.repository.get(order_id)
        if reservation is None:
            raise FailedPrecondition(f"order {order_id} has no reservation")
        return reservation

    async def _operate(self, reservation: Reservation, start: Collection[R], working: R) -> bool:
        """Claim `working` from `start` (or take a dead owner's over), apply, record."""
        now = self.clock()
        done = FINISHES[working]
        if reservation.state is done:
            return True
        abandoned = reservation.state is R.RESERVING and working is R.RELEASING
        if reservation.state is working or abandoned:
            # In progress: its owner's, unless the owner is gone. A release may finish an
            # abandoned reservation; nothing else may interrupt a live one.
            reservation = await self._take_over(reservation, now, working)
        elif reservation.state in start:
            claimed = await self.repository.claim(
                reservation.order_id, reservation.state, working, now
            )
            if claimed is None:
                raise Unavailable(f"the reservation of {reservation.order_id} changed; try again")
            reservation = claimed
        else:
            raise FailedPrecondition(
                f"the reservation of order {reservation.order_id} is {reservation.state}"
            )
        return await self._carry_out(reservation, working, now)

    async def _carry_out(self, reservation: Reservation, working: R, now: datetime) -> bool:
        """Apply `working`'s effect to each line of a reservation claimed at `now`, then
        record the outcome."""
        done = FINISHES[working]
        order_id = reservation.order_id
        undo_holds = working is R.RELEASING and reservation.came_from is R.RESERVING
        effect = EFFECT[working]
        if undo_holds:
            # A reservation that never finished: give back only the holds that were made.
            for item_id, quantity in reservation.lines:
                self._fence(now)
                await self.repository.undo_hold(item_id, order_id, quantity)
        else:
            self._fence(now)
            await self.repository.apply_all(order_id, effect, reservation.lines, now)
        await self._finish(order_id, working, done, now)
        if not undo_holds:
            # Only now: until the outcome is recorded, a successor relies on these markers.
            self.repository.prune_later(order_id, effect, [i for i, _ in reservation.lines])
        return True

    async def _take_over(
        self, reservation: Reservation, now: datetime, to: R | None = None
    ) -> Reservation:
        """Continue (as `to`, by default the same operation) what a dead owner left."""
        if now - reservation.claimed_at < self.takeover_after:
            raise Unavailable(
                f"the stock of order {reservation.order_id} is being changed; try again"
            )
        taken = await self.repository.claim(
            reservation.order_id,
            reservation.state,
            to or reservation.state,
            now,
            claimed_at=reservation.claimed_at,
        )
        if taken is None:
            raise Unavailable(f"the reservation of {reservation.order_id} changed; try again")
        log.warning("stock.took_over", order_id=reservation.order_id, state=reservation.state.value)
        return taken

    async def _finish(self, order_id: str, working: R, to: R, claimed: datetime) -> None:
        """Record the outcome, as the owner of the claim made at `claimed` (within the fence)."""
        self._fence(claimed)
        if not await self.repository.finish(order_id, working, to, claimed_at=claimed):
            raise Unavailable(f"the reservation of order {order_id} was taken over; try again")

    def _fence(self, claimed: datetime) -> None:
        """An owner slower than half the takeover time stops: a successor may have begun."""
        if self.clock() - claimed > self.takeover_after / 2:
            raise Unavailable("this stock operation took too long; it is left to a successor")
