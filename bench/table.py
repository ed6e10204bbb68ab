"""`python -m bench.table FILE [BEFORE]`: the README's benchmark tables from `--json` output.

One row per step: throughput, latency, 5xx, database commands and CPU per order (OMS's own
processes and the database server apart, then every process). With BEFORE, each figure of a
step both files ran is followed by the earlier one in parentheses.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

OMS = ("gateway", "menu", "stock", "order", "payment", "kitchen")
DATABASE = "ferretdb"


def _steps(path: str) -> dict[str, dict[str, Any]]:
    runs: dict[str, Any] = orjson.loads(Path(path).read_bytes())
    return {step["step"]: step for step in runs["steps"]}


def _cpu(step: dict[str, Any]) -> tuple[float, float, float]:
    cpu: dict[str, float] = step.get("cpu_ms_per_order") or {}
    oms = sum(cpu.get(name, 0.0) for name in OMS)
    return oms, cpu.get(DATABASE, 0.0), sum(cpu.values())


def _row(step: dict[str, Any]) -> list[str]:
    if "kitchen_display_delay_ms" in step:
        delay = step["kitchen_display_delay_ms"]
        connected = f"{step['subscribers_connected']} streams open"
        return [
            step["step"],
            connected,
            "",
            f"kitchen display p50 {delay['p50']:.0f} / p99 {delay['p99']:.0f} ms after payment",
            "",
            "",
            "",
            "",
        ]
    lat = step["latency_ms"]
    oms, database, total = _cpu(step)
    return [
        step["step"],
        f"{step['orders_per_second']:.1f}",
        f"{lat['p50']:.0f} / {lat['p99']:.0f}",
        str(step["server_errors"]),
        f"{step['db_commands_per_order']:.1f}",
        f"{oms:.1f}",
        f"{database:.1f}",
        f"{total:.1f}",
    ]


def table(path: str, before: str | None = None) -> str:
    head = [
        "step",
        "orders/s",
        "p50 / p99 ms",
        "5xx",
        "db commands / order",
        "OMS CPU ms / order",
        "FerretDB CPU ms / order",
        "all CPU ms / order",
    ]
    earlier = _steps(before) if before else {}
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for name, step in _steps(path).items():
        row = _row(step)
        if name in earlier:
            old = _row(earlier[name])
            pairs = zip(row[1:], old[1:], strict=True)
            row = [row[0]] + [f"{new} ({was})" if was and was != new else new for new, was in pairs]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: python -m bench.table FILE [BEFORE]")
    print(table(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None))


if __name__ == "__main__":
    main()
