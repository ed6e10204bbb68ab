"""A Restaurant created, changed, found at start-up, or due for its periodic resync."""

from __future__ import annotations

from typing import Any

import kopf

from oms_operator import naming, reconciliation, state, status
from oms_operator.model import InvalidSpec, Restaurant

# A safety net under the event-driven handlers: Services deleted by hand, a vhost removed
# behind our back, Consul restarted empty; all come back within this many seconds.
RESYNC_SECONDS = 60.0


async def _reconcile(
    body: kopf.Body,
    namespace: str,
    name: str,
    memo: kopf.Memo,
    retry: int,
    logger: kopf.Logger,
    *,
    announce: bool,
) -> None:
    clients = state.clients(memo)
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
            extra={"reason": exc.reason, "error": exc.message, "retry": retry},
        )
        if exc.permanent:
            raise kopf.PermanentError(exc.message) from exc
        raise kopf.TemporaryError(exc.message, delay=reconciliation.backoff(retry)) from exc
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
async def reconcile(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    retry: int,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    await _reconcile(body, state.namespaced(namespace), name, memo, retry, logger, announce=True)


@kopf.timer(
    naming.GROUP,
    naming.VERSION,
    naming.PLURAL,
    interval=RESYNC_SECONDS,
    initial_delay=RESYNC_SECONDS,
)
async def resync(
    body: kopf.Body,
    namespace: str | None,
    name: str,
    memo: kopf.Memo,
    logger: kopf.Logger,
    **_: Any,
) -> None:
    # Timers have no retry count: a failure waits the first backoff step, then the interval.
    namespace = state.namespaced(namespace)
    await _reconcile(body, namespace, name, memo, 0, logger, announce=False)
