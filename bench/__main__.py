"""`scripts/bench`: how fast OMS creates orders and runs them to the pass, and what it costs.

    scripts/bench                         # starts every server and service here, then runs
    scripts/bench --seconds 20 --json before.json
    scripts/bench --only closed --concurrency 32
    scripts/bench --only closed --concurrency 8 --profile /tmp/profiles   # py-spy hot spots
    scripts/bench --gateway http://127.0.0.1:8080 --webhook-secret whsec_... --admin-token ...

One run reports: create-order throughput and latency closed loop at several concurrencies and
open loop at fixed rates; full lifecycles (create, pay by webhook, ready; cook time 0); a live
test with hundreds of open order streams and the kitchen display's delay after payment; and
for every step the CPU seconds per 1,000 orders of each process (services and servers) and
the database commands per order. `--json FILE` writes every figure, to compare two commits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from bench import load, measure, profile
from bench.platform import Target, local_target


@dataclass
class Step:
    name: str
    seconds: float
    tally: load.Tally
    cpu: dict[str, float]
    commands: Counter[str]
    extra: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        done = max(1, self.tally.done)
        return {
            "step": self.name,
            "seconds": round(self.seconds, 2),
            "orders": self.tally.done,
            "orders_per_second": round(self.tally.done / self.seconds, 1),
            "latency_ms": {
                k: round(v, 1) for k, v in measure.percentiles(self.tally.latencies_ms).items()
            },
            "paid_to_ready_ms": {
                k: round(v, 1) for k, v in measure.percentiles(self.tally.second_ms).items()
            }
            if self.tally.second_ms
            else None,
            "refused": {str(k): v for k, v in sorted(self.tally.refused.items())},
            "server_errors": self.tally.server_errors,
            "errors": self.tally.errors[:5],
            "cpu_ms_per_order": {
                name: round(s * 1000 / done, 2) for name, s in sorted(self.cpu.items())
            },
            "cpu_seconds_per_1000_orders": {
                name: round(s * 1000 / done, 2) for name, s in sorted(self.cpu.items())
            },
            "db_commands_per_order": round(self.commands.total() / done, 2),
            "db_commands_per_order_by_service": {
                key: round(count / done, 2) for key, count in sorted(self.commands.items())
            },
            **self.extra,
        }


async def _measured(
    target: Target,
    name: str,
    run: Callable[[], Awaitable[load.Tally]],
    recorder: profile.Recorder | None = None,
) -> Step:
    await measure.settle(target.metrics_urls)
    meter = measure.CpuMeter(target.process_groups)
    commands_before = measure.mongo_commands(target.metrics_urls)
    meter.start()
    if recorder is not None:
        recorder.start()
    started = time.perf_counter()
    own_before = time.process_time()
    tally = await run()
    own = time.process_time() - own_before
    seconds = time.perf_counter() - started
    cpu = meter.stop()
    commands = measure.mongo_commands(target.metrics_urls) - commands_before
    step = Step(name, seconds, tally, cpu, commands)
    # The load generator shares the machine's cores; its cost is reported, not counted in "all".
    step.extra["load_generator_cpu_ms_per_order"] = round(own * 1000 / max(1, tally.done), 2)
    if recorder is not None:
        profiles = await asyncio.to_thread(recorder.finish)
        profile.report(profiles)
        step.extra["profile"] = {
            p.service: {"areas": p.top(p.areas, 10), "functions": p.top(p.functions, 10)}
            for p in profiles
        }
    return step


def _print(step: Step) -> None:
    f = step.figures()
    lat = f["latency_ms"]
    print(
        f"{f['step']:<28} {f['orders']:>6} orders {f['orders_per_second']:>7.1f}/s   "
        f"p50 {lat['p50']:7.1f}  p95 {lat['p95']:7.1f}  p99 {lat['p99']:7.1f} ms   "
        f"5xx {f['server_errors']}  refused {f['refused']}  db {f['db_commands_per_order']}/order"
    )
    if f["paid_to_ready_ms"]:
        ready = f["paid_to_ready_ms"]
        print(f"{'':<28} paid -> ready p50 {ready['p50']:.1f}  p99 {ready['p99']:.1f} ms")
    by = f["db_commands_per_order_by_service"]
    print(f"{'':<28} db commands/order: " + ", ".join(f"{k} {v}" for k, v in by.items() if v))
    cpu = f["cpu_ms_per_order"]
    total = sum(cpu.values())
    print(
        f"{'':<28} CPU ms/order: "
        + ", ".join(f"{k} {v}" for k, v in cpu.items())
        + f"  (all {total:.1f}; load generator {f['load_generator_cpu_ms_per_order']})"
    )
    for error in f["errors"][:3]:
        print(f"{'':<28} ! {error}")


async def run(args: argparse.Namespace, target: Target) -> list[dict[str, Any]]:
    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=120)
    results: list[dict[str, Any]] = []
    async with aiohttp.ClientSession(target.gateway, connector=connector, timeout=timeout) as http:
        items = await target.stocked_items(http)
        steps: list[tuple[str, Callable[[], Awaitable[load.Tally]]]] = []
        if args.only in (None, "closed"):
            for c in args.concurrency:
                closed = partial(load.closed_loop, http, items, c, args.seconds)
                steps.append((f"create closed c={c}", closed))
        if args.only in (None, "open"):
            for rate in args.rates:
                opened = partial(load.open_loop, http, items, rate, args.seconds)
                steps.append((f"create open {rate:g}/s", opened))
        if args.only in (None, "lifecycle"):
            for c in args.lifecycle_concurrency:
                life = partial(load.lifecycles, http, items, c, args.seconds, target.webhook_secret)
                steps.append((f"lifecycle closed c={c}", life))
        # Live first: orders the other steps leave behind come back as deadline timers
        # (ORDER_PENDING_SECONDS after they were placed), work the display would pay for.
        if args.only in (None, "live"):
            await measure.settle(target.metrics_urls)
            started = time.perf_counter()
            live = await load.with_subscribers(
                http,
                target.admin_token,
                args.subscribers,
                items,
                args.live_orders,
                target.webhook_secret,
            )
            delays = measure.percentiles(live.kitchen_delays_ms)
            figures = {
                "step": f"live {live.subscribers} subscribers",
                "seconds": round(time.perf_counter() - started, 2),
                "subscribers_connected": live.connected,
                "connect_seconds": round(live.connect_seconds, 2),
                "updates_received": live.updates_received,
                "kitchen_display_delay_ms": {k: round(v, 1) for k, v in delays.items()},
                "payments_timed": len(live.kitchen_delays_ms),
            }
            print(
                f"{figures['step']:<28} connected {live.connected}/{live.subscribers} "
                f"in {live.connect_seconds:.1f} s; kitchen "
                f"display after payment p50 {delays['p50']:.1f} p99 {delays['p99']:.1f} ms "
                f"({len(live.kitchen_delays_ms)} payments)"
            )
            results.append(figures)
        for index, (name, step) in enumerate(steps):
            recorder = None
            if args.profile and index == 0:
                if not target.service_pids:
                    raise SystemExit("bench: --profile needs the local platform")
                recorder = profile.Recorder(Path(args.profile), target.service_pids, args.seconds)
            measured = await _measured(target, name, step, recorder)
            _print(measured)
            results.append(measured.figures())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="per step")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 128])
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100, 150])
    parser.add_argument("--lifecycle-concurrency", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--live-orders", type=int, default=100)
    parser.add_argument("--only", choices=["closed", "open", "lifecycle", "live"])
    parser.add_argument("--json", help="write every figure to this file")
    parser.add_argument(
        "--profile", help="py-spy every service during the first step; stacks go to this folder"
    )
    parser.add_argument("--gateway", help="a running platform's gateway URL (else one is started)")
    parser.add_argument("--webhook-secret", default="", help="with --gateway")
    parser.add_argument("--admin-token", default="", help="with --gateway")
    parser.add_argument(
        "--sample-ratio", type=float, default=0.01, help="traces kept (local platform)"
    )
    args = parser.parse_args()

    def go(target: Target) -> None:
        print(f"bench: {target.describe()}", flush=True)
        results = asyncio.run(run(args, target))
        if args.json:
            document = {
                "command": " ".join(sys.argv),
                "platform": target.describe(),
                "steps": results,
            }
            with open(args.json, "wb") as out:
                out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2))
            print(f"bench: figures written to {args.json}")

    if args.gateway:
        go(Target.remote(args.gateway, args.webhook_secret, args.admin_token))
    else:
        with local_target(args.sample_ratio) as target:
            go(target)


if __name__ == "__main__":
    main()
