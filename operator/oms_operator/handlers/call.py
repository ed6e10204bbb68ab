"""What kopf tells a Restaurant's handler, as one typed value.

kopf hands a handler its context as keyword arguments. `restaurant_handler` takes the ones
ours use, checks the namespace, and calls the handler with a `Call`; kopf still knows the
handler by its own name (its progress on a resource is stored under that name).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import kopf

from oms_operator import state


@dataclass(frozen=True)
class Call:
    body: kopf.Body
    namespace: str
    name: str
    memo: kopf.Memo
    retry: int  # how many times this handler already failed on this change
    logger: kopf.Logger

    @property
    def clients(self) -> state.Clients:
        return state.clients(self.memo)


def restaurant_handler(
    handler: Callable[[Call], Awaitable[None]],
) -> Callable[..., Awaitable[None]]:
    """`handler` as kopf calls it."""

    @functools.wraps(handler)
    async def called_by_kopf(
        body: kopf.Body,
        namespace: str | None,
        name: str,
        memo: kopf.Memo,
        logger: kopf.Logger,
        retry: int = 0,
        **_: Any,
    ) -> None:
        await handler(Call(body, state.namespaced(namespace), name, memo, retry, logger))

    return called_by_kopf
