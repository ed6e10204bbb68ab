"""The kitchen staff: a fixed number of cooks, each cooking one paid order at a time.

A message is acknowledged only after its ticket is ready (the consumer acks when `cook`
returns), so an order whose cook dies mid-way is redelivered by RabbitMQ and finished by
another cook; its ticket remembers how many times it was started.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from oms import domain_events as events
from oms.kitchen.domain import Ticket, TicketStatus
from oms.kitchen.repository import MongoTicketRepository
from oms.platform import logs
from oms.platform.events import Event
from oms.platform.outbox import OutboxRelay

log = logs.get(__name__)


@dataclass(frozen=True)
class Status:
    workers: int
    busy: dict[str, str]  # worker -> the order it is cooking


class Kitchen:
    def __init__(
        self,
        repository: MongoTicketRepository,
        relay: OutboxRelay,
        workers: int,
        seconds_per_item: float,
        instance: str | None = None,
    ) -> None:
        self.repository = repository
        self.relay = relay
        self.workers = workers
        self.seconds_per_item = seconds_per_item
        instance = instance or socket.gethostname()
        self._free: asyncio.Queue[str] = asyncio.Queue()
        for number in range(1, workers + 1):
            self._free.put_nowait(f"{instance}/cook-{number}")
        self._busy: dict[str, str] = {}

    def status(self) -> Status:
        return Status(self.workers, dict(self._busy))

    async def handle(self, event: Event) -> None:
        await self.cook(events.parse(events.OrderPaid, event))

    async def cook(self, paid: events.OrderPaid) -> Ticket:
        worker = await self._free.get()
        self._busy[worker] = paid.order_id
        try:
            return await self._cook(worker, paid)
        finally:
            del self._busy[worker]
            self._free.put_nowait(worker)

    async def _cook(self, worker: str, paid: events.OrderPaid) -> Ticket:
        items = sum(line.quantity for line in paid.lines)
        ticket = await self.repository.start(paid.order_id, worker, items)
        if ticket.status is TicketStatus.READY:
            return ticket
        self.relay.wake(paid.order_id)
        log.info("kitchen.cooking", order_id=paid.order_id, worker=worker, items=items)
        await asyncio.sleep(self.seconds_per_item * items)
        finished = await self.repository.finish(paid.order_id, worker)
        self.relay.wake(paid.order_id)
        log.info("kitchen.ready", order_id=paid.order_id, worker=worker)
        return finished or ticket
