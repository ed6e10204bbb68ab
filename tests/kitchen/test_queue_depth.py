"""The kitchen's queue depth (`oms_kitchen_queue_depth`): confirmed orders waiting for a cook.
With the kitchen's consumer paused (the failure switch), what its cooks cannot take waits in
the queue and the gauge says how much; lifted, the cooks take it all and it is 0 again."""

from __future__ import annotations

from prometheus_client import REGISTRY

from oms import domain_events as events
from oms.kitchen import consumers
from oms.kitchen.domain import TicketStatus
from oms.platform.consumer import Consumer
from oms.platform.faults import Fault, Faults
from tests.kitchen.conftest import KitchenWorld, confirmed
from tests.platform.support import eventually

WORKERS = 2
ORDERS = 5


def _depth() -> float | None:
    return REGISTRY.get_sample_value("oms_kitchen_queue_depth")


async def test_orders_no_cook_can_take_are_the_queue_depth_until_the_cooks_take_them(
    world: KitchenWorld,
) -> None:
    queue = events.KITCHEN_ORDERS.queue
    target = f"consumer:{queue}"
    faults = Faults(allowed=True, rules=[Fault(target=target, action="pause")])
    kitchen = world.kitchen(workers=WORKERS)
    # One unacknowledged order per cook, as the service consumes.
    consumer = Consumer(
        world.bus.broker, queue, consumers.orders(kitchen), prefetch=WORKERS, faults=faults
    )
    await consumer.start()
    orders = [confirmed() for _ in range(ORDERS)]
    try:
        for order in orders:
            await world.bus.broker.publish(order.to_event())
        await eventually(lambda: faults.held() == {target: WORKERS}, what="the cooks' orders held")

        assert await consumers.measure_queue(world.bus.broker) == ORDERS - WORKERS
        assert _depth() == ORDERS - WORKERS

        faults.lift(target)

        async def all_cooked() -> bool:
            tickets = [await world.repository.get(order.order_id) for order in orders]
            return all(t is not None and t.status is TicketStatus.COOKED for t in tickets)

        await eventually(all_cooked, what="every order cooked")
    finally:
        await consumer.stop()

    assert await consumers.measure_queue(world.bus.broker) == 0
    assert _depth() == 0
