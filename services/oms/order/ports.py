"""What Order needs of the other services, as the use cases see them (adapters in
`oms.order.clients`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from oms.order.domain import CheckoutClosed, PricedItem, Shortage
from oms.order_lines import Line


class Menu(Protocol):
    async def items(self, ids: Sequence[str]) -> tuple[dict[str, PricedItem], list[str]]: ...


class Stock(Protocol):
    async def reserve(self, order_id: str, lines: Sequence[Line]) -> list[Shortage]: ...
    async def release(self, order_id: str, reason: str) -> None: ...


class Payment(Protocol):
    async def close_checkout(self, order_id: str) -> CheckoutClosed: ...


class Timers(Protocol):
    async def deadline_in(self, order_id: str, seconds: float) -> None: ...
