"""The restaurant seed file Menu and Stock load at start-up (`MENU_SEED_FILE`, `STOCK_SEED_FILE`).

JSON: `{"restaurant": "...", "items": [{"id", "name", "description", "price_minor",
"currency"}...], "stock": {"<item id>": <on hand>}}`; `stock` is optional. Loading is
idempotent: only what does not exist yet is added, so edits made since survive a restart.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEMO = Path(__file__).with_name("demo_restaurant.json")


@dataclass(frozen=True)
class SeedFile:
    items: list[dict[str, Any]] = field(default_factory=list)
    stock: dict[str, int] = field(default_factory=dict)


def read(path: Path) -> SeedFile:
    content = json.loads(path.read_text())
    return SeedFile(items=list(content.get("items", [])), stock=dict(content.get("stock", {})))
