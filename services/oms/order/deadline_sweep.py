"""The deadline sweep: the backstop of the deadline timers.

An order's deadlines are settled by its `order.deadline_due` timer (`OrderReactions.deadline_due`),
which lives only in RabbitMQ: a timer lost with the broker's data would leave its order
waiting forever, and an unpaid one holding its stock. So every `ORDER_DEADLINE_SWEEP_SECONDS`
each Order process looks for orders whose stored deadline (`due.at`) passed more than
`ORDER_DEADLINE_SWEEP_MARGIN_SECONDS` ago, and handles each exactly as its timer would, which
also sets its next timer again. The margin leaves a timer on its way the time to arrive: a
timer is late by at most its rung's step (`oms.platform.timers.LADDER`); one later than the
margin finds its order already handled, as a timer delivered twice does.

Several Order processes sweep the same orders. Each claims an order before handling it, by a
compare-and-set that moves the deadline it read one sweep period on, so one process handles
it; the handling is a compare-and-set too, so a timer landing meanwhile changes nothing. An
order the handling could not settle (Payment away) keeps the claimed deadline: the sweep
looks at it again a period later. An order counted overdue has no deadline left (see
`MongoOrderRepository.mark_overdue`), so it is not picked again by every sweep.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from oms import domain_events as events
from oms.order.reactions import OrderReactions
from oms.platform import logs

log = logs.get(__name__)
BATCH = 200  # orders read per query; a sweep reads until none is left


class DeadlineSweep:
    def __init__(self, reactions: OrderReactions, margin: timedelta, period: timedelta) -> None:
        self.reactions = reactions
        self.repository = reactions.repository
        self.clock = reactions.handlers.clock
        self.margin = margin
        self.period = period

    async def sweep(self, batch: int = BATCH) -> int:
        """Handle every order overdue by more than the margin; how many this process took."""
        taken = 0
        while True:
            now = self.clock()
            found = await self.repository.due(now - self.margin, batch)
            claimed = [
                order_id
                for order_id, deadline in found
                if await self.settle(order_id, deadline, now)
            ]
            taken += len(claimed)
            # A claimed order leaves the range; one another process claimed has left it too.
            if len(found) < batch or not claimed:
                if taken:
                    log.info("order.deadline_sweep", orders=taken)
                return taken

    async def settle(self, order_id: str, deadline: datetime, now: datetime) -> bool:
        """Claim the order as read (its deadline then), and handle it as its timer would;
        False when another process or a change of the order came first."""
        if not await self.repository.claim_due(order_id, deadline, now + self.period):
            return False
        # Its timer is lost, or later than the margin.
        log.warning("order.deadline_swept", order_id=order_id, deadline=deadline.isoformat())
        try:
            await self.reactions.deadline_due(events.DeadlineDue(order_id=order_id))
        except Exception:
            # Its claim lapses after a period, and the sweep then tries it again.
            log.warning("order.deadline_sweep_failed", order_id=order_id, exc_info=True)
        return True
