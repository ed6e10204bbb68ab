"""The README's benchmark table is made from `scripts/bench --json` output, earlier figures
beside the new ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from bench.table import table


def _run(path: Path, orders_per_second: float, ferretdb_ms: float) -> str:
    step: dict[str, Any] = {
        "step": "create closed c=32",
        "orders_per_second": orders_per_second,
        "latency_ms": {"p50": 313.1, "p99": 539.9},
        "server_errors": 0,
        "db_commands_per_order": 6.07,
        "cpu_ms_per_order": {"order": 3.5, "gateway": 1.8, "ferretdb": ferretdb_ms, "rabbitmq": 1},
    }
    live = {
        "step": "live 500 subscribers",
        "subscribers_connected": 500,
        "kitchen_display_delay_ms": {"p50": 53.2, "p99": 93.3},
    }
    path.write_bytes(orjson.dumps({"command": "bench", "steps": [step, live]}))
    return str(path)


def test_a_row_holds_throughput_latency_and_cpu_split_between_oms_and_the_database(
    tmp_path: Path,
) -> None:
    lines = table(_run(tmp_path / "after.json", 100.0, 6.8)).splitlines()

    assert lines[2] == "| create closed c=32 | 100.0 | 313 / 540 | 0 | 6.1 | 5.3 | 6.8 | 13.1 |"
    assert "500 streams open" in lines[3]
    assert "p99 93 ms after payment" in lines[3]


def test_earlier_figures_follow_the_new_ones_where_they_differ(tmp_path: Path) -> None:
    after = _run(tmp_path / "after.json", 100.0, 6.8)
    before = _run(tmp_path / "before.json", 9.3, 67.8)

    row = table(after, before).splitlines()[2]

    assert row.startswith("| create closed c=32 | 100.0 (9.3) | 313 / 540 | 0 | 6.1 | 5.3 |")
    assert "| 6.8 (67.8) | 13.1 (74.1) |" in row
