"""The kitchen staff: a fixed number of cooks, each cooking one confirmed order at a time.

A message is acknowledged only after its ticket is cooked (the consumer acks when `cook`
returns), so an order whose cook dies is redelivered by RabbitMQ and finished by another
cook; its ticket remembers how many times it was started.

Stopping drains the kitchen: a cook who can finish within the drain time does; one who
cannot hands the order back at once (`HandBack`), so another cook starts it without waiting
for this process's grace period to run out. A refund voids the ticket, and its cook stops.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from oms import domain_events as events
from oms.kitchen.domain import CookTimes, Ticket, TicketStatus
from oms.kitchen.repository import TicketRepository
from oms.platform import logs, metrics
from oms.platform.clock import Clock, utc_now
from oms.platform.consumer import current_delivery
from oms.platform.errors import InvalidArgument, NotFound
from oms.platform.events import Event, HandBack

log = logs.get(__name__)
# Beyond the longest cook time, a ticket still cooking has lost its cook.
STALE_MARGIN_SECONDS = 30.0


@dataclass(frozen=True)
class Status:
    workers: int
    busy: dict[str, str]  # cook -> the order they are cooking


@dataclass
class _Cooking:
    order_id: str
    finishes_at: float  # loop time
    stop: asyncio.Event  # set when the ticket is voided or the kitchen drains


class Kitchen:
    def __init__(
        self, repository: TicketRepository, cooks: Sequence[str], times: CookTimes
    ) -> None:
        self.repository = repository
        self.workers = len(cooks)
        self.times = times
        self.clock: Clock = utc_now
        self._free: asyncio.Queue[str] = asyncio.Queue()
        for cook in cooks:
            self._free.put_nowait(cook)
        self._cooking: dict[str, _Cooking] = {}  # cook -> what they are doing
        self._drain_until: float | None = None

    def status(self) -> Status:
        return Status(self.workers, {cook: c.order_id for cook, c in self._cooking.items()})

    async def ticket(self, order_id: str) -> Ticket:
        """The order's ticket, once a cook has picked the order."""
        if not order_id:
            raise InvalidArgument("order_id is required")
        ticket = await self.repository.get(order_id)
        if ticket is None:
            raise NotFound(f"no cook has picked order {order_id} yet")
        return ticket

    def is_cooking(self, order_id: str) -> bool:
        """True when a cook of this process has the order (or is starting it)."""
        return any(c.order_id == order_id for c in self._cooking.values())

    async def cook(self, confirmed: events.OrderConfirmed) -> Ticket | None:
        """Cook a confirmed order; its ticket as it then stands (None if not stored yet)."""
        if self._drain_until is not None:
            raise HandBack()
        cook = await self._free.get()
        try:
            return await self._cook(cook, confirmed)
        finally:
            self._cooking.pop(cook, None)
            metrics.KITCHEN_BUSY_COOKS.set(len(self._cooking))
            self._free.put_nowait(cook)

    async def _cook(self, cook: str, confirmed: events.OrderConfirmed) -> Ticket | None:
        order_id = confirmed.order_id
        if self.is_cooking(order_id):
            # Delivered twice (events are published at least once) and a cook here has it:
            # taking it over would cook it twice.
            log.info("kitchen.already_cooking", order_id=order_id, cook=cook)
            return await self.repository.get(order_id)
        items = sum(line.quantity for line in confirmed.lines)
        seconds = self.times.for_items(items)
        loop = asyncio.get_running_loop()
        cooking = _Cooking(order_id, loop.time() + seconds, asyncio.Event())
        # Known before the ticket is stored: a void landing while it is stored stops this cook.
        self._cooking[cook] = cooking
        ticket = await self._start(cook, order_id, items)
        if ticket is None or ticket.status is not TicketStatus.COOKING or ticket.cook != cook:
            return ticket  # voided, cooked already (a redelivery), or another cook's

        cooking.finishes_at = loop.time() + seconds
        metrics.KITCHEN_BUSY_COOKS.set(len(self._cooking))
        log.info("kitchen.cooking", order_id=order_id, cook=cook, items=items)
        await self._wait_while_cooking(cooking)
        ready = events.TicketReady(order_id=order_id, cook=cook)
        finished = await self.repository.finish(order_id, cook, self.clock(), [ready.to_event()])
        if finished is None:
            log.info("kitchen.voided_while_cooking", order_id=order_id, cook=cook)
            return await self.repository.get(order_id)
        log.info("kitchen.cooked", order_id=order_id, cook=cook)
        return finished

    async def _start(self, cook: str, order_id: str, items: int) -> Ticket | None:
        now = self.clock()
        started = events.TicketStarted(order_id=order_id, cook=cook, attempt=1)
        ticket = await self.repository.start(order_id, cook, items, now, [started.to_event()])
        if ticket is not None:
            return ticket
        existing = await self.repository.get(order_id)
        if existing is None or existing.status is not TicketStatus.COOKING:
            return existing
        if not self._previous_cook_gone(existing, now):
            # A second copy of the event while another kitchen's cook has the order (events
            # are published at least once): that cook finishes it; if it dies, RabbitMQ
            # gives its own copy again, marked redelivered.
            log.info("kitchen.cooked_elsewhere", order_id=order_id, cook=existing.cook)
            return existing
        # A cook stopped mid-way (redelivered): this one starts it again.
        again = events.TicketStarted(order_id=order_id, cook=cook, attempt=existing.attempts + 1)
        return await self.repository.take_over(order_id, cook, now, [again.to_event()])

    def _previous_cook_gone(self, ticket: Ticket, now: datetime) -> bool:
        """True when the cook who has the ticket cannot still be cooking it."""
        if current_delivery().after_an_earlier_attempt:
            return True
        # No sign either way: a cook cooks for at most the longest cook time.
        stale = timedelta(seconds=self.times.longest + STALE_MARGIN_SECONDS)
        return now - ticket.started_at > stale

    async def _wait_while_cooking(self, cooking: _Cooking) -> None:
        loop = asyncio.get_running_loop()
        while (remaining := cooking.finishes_at - loop.time()) > 0:
            if self._drain_until is not None and cooking.finishes_at > self._drain_until:
                log.info("kitchen.handed_back", order_id=cooking.order_id)
                raise HandBack()
            try:
                await asyncio.wait_for(cooking.stop.wait(), remaining)
            except TimeoutError:
                return
            cooking.stop.clear()
            ticket = await self.repository.get(cooking.order_id)
            if ticket is not None and ticket.status is TicketStatus.VOIDED:
                return  # `finish` then finds it voided and cooks nothing

    async def void(self, refunded: events.OrderRefunded) -> None:
        """Order refunded the order: its ticket is void, and whoever cooks it stops. Order
        hears, once, whether a cook had started it (`kitchen.ticket_voided`): whether the food
        was used is known here, at the ticket, and nowhere else."""
        order_id = refunded.order_id

        def report(food_used: bool) -> list[Event]:
            return [events.TicketVoided(order_id=order_id, food_used=food_used).to_event()]

        food_used = await self.repository.void(order_id, self.clock(), report)
        if food_used is not None:
            log.info("kitchen.voided", order_id=order_id, food_used=food_used)
        for cooking in self._cooking.values():
            if cooking.order_id == refunded.order_id:
                cooking.stop.set()

    async def drain(self, seconds: float) -> None:
        """Stop taking orders: finish what can be done within `seconds`, hand back the rest."""
        self._drain_until = asyncio.get_running_loop().time() + seconds
        log.info("kitchen.draining", seconds=seconds, cooking=len(self._cooking))
        for cooking in self._cooking.values():
            cooking.stop.set()
