"""The demo restaurant's menu, loaded at start-up from a JSON file."""

from __future__ import annotations

import json
from pathlib import Path

from oms.menu.domain import MenuItem

DEMO = Path(__file__).with_name("seed") / "demo.json"


def load(path: Path) -> list[MenuItem]:
    entries = json.loads(path.read_text())
    return [MenuItem(**entry) for entry in entries["items"]]


def load_stock(path: Path) -> dict[str, int]:
    """Starting quantities per item id (the file's optional `stock` section)."""
    quantities: dict[str, int] = json.loads(path.read_text()).get("stock", {})
    return quantities
