"""The restaurant seed file Menu and Stock load at start-up (`MENU_SEED_FILE`, `STOCK_SEED_FILE`).

JSON: `{"restaurant": "...", "items": [{"id", "name", "description", "price_minor",
"currency"}...], "stock": {"<item id>": <on hand>}}`; `stock` is optional. Loading is
idempotent: only what does not exist yet is added, so edits made since survive a restart.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_settings import BaseSettings

from oms.platform import logs

DEMO = Path(__file__).with_name("demo_restaurant.json")
log = logs.get(__name__)


class SeedSettings(BaseSettings):
    """Part of Menu's and Stock's sections: `<SERVICE>_SEED_FILE`, the seed file they load at
    start-up (the demo restaurant by default; an empty string: none)."""

    seed_file: str = str(DEMO)


@dataclass(frozen=True)
class SeedFile:
    items: list[dict[str, Any]] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)


def read(path: Path) -> SeedFile:
    content = json.loads(path.read_text())
    return SeedFile(items=list(content.get("items", [])), stock=dict(content.get("stock", {})))


async def load(service: str, path: str, seed: Callable[[str], Awaitable[int]]) -> None:
    """Seed from `path` with `seed` (nothing when `path` is empty), logging how much it added."""
    if path:
        log.info(f"{service}.seeded", added=await seed(path))
