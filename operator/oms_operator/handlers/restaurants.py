"""A Restaurant created, changed, found at start-up, or due for its periodic resync."""

from __future__ import annotations

from dataclasses import replace

import kopf

from oms_operator import naming, reconciliation, status
from oms_operator.handlers.call import Call, restaurant_handler
from oms_operator.model import InvalidSpec, Restaurant

# A safety net under the event-driven handlers: Services deleted by hand, a vhost removed
# behind our back, Consul restarted empty; all come back within this many seconds.
RESYNC_SECONDS = 60.0


async def _reconcile(call: Call, *, announce: bool) -> None:
    body, namespace, name, logger = call.body, call.namespace, call.name, call.logger
    clients = call.clients
    generation = int(body.metadata.get("generation", 1))
    try:
        restaurant = Restaurant.parse(namespace, name, body.spec)
    except InvalidSpec as exc:
        message = str(exc)[:1000]
        await status.refresh(
            clients, namespace, name, error={"reason": "InvalidSpec", "message": message}
        )
        kopf.warn(body, reason="InvalidSpec", message=message)
        raise kopf.PermanentError(f"invalid spec: {message}") from exc
    try:
        summary = await reconciliation.reconcile(clients, body, restaurant)
    except reconciliation.StepFailed as exc:
        await status.refresh(
            clients, namespace, name, error={"reason": exc.reason, "message": exc.message}
        )
        kopf.warn(body, reason=exc.reason, message=exc.message)
        logger.warning(
            "restaurant.reconcile_failed",
            extra={"reason": exc.reason, "error": exc.message, "retry": call.retry},
        )
        if exc.permanent:
            raise kopf.PermanentError(exc.message) from exc
        raise kopf.TemporaryError(exc.message, delay=reconciliation.backoff(call.retry)) from exc
    await status.refresh(clients, namespace, name, observed_generation=generation, error=None)
    logger.info(
        "restaurant.reconciled",
        extra={
            "generation": generation,
            "vhost": restaurant.vhost,
            "kitchen_workers": restaurant.spec.kitchen.workers,
        },
    )
    if announce:  # the resync stays quiet: an event a minute would drown the useful ones
        kopf.info(body, reason="Reconciled", message=f"Generation {generation}: {summary}")


@kopf.on.resume(naming.GROUP, naming.VERSION, naming.PLURAL)
@kopf.on.create(naming.GROUP, naming.VERSION, naming.PLURAL)
@kopf.on.update(naming.GROUP, naming.VERSION, naming.PLURAL)
@restaurant_handler
async def reconcile(call: Call) -> None:
    await _reconcile(call, announce=True)


@kopf.timer(
    naming.GROUP,
    naming.VERSION,
    naming.PLURAL,
    interval=RESYNC_SECONDS,
    initial_delay=RESYNC_SECONDS,
)
@restaurant_handler
async def resync(call: Call) -> None:
    # Timers have no retry count: a failure waits the first backoff step, then the interval.
    await _reconcile(replace(call, retry=0), announce=False)
