"""Whether a platform has settled: nothing waits in a queue or a retry queue, nothing is being
handled, and every outbox is empty (each relay has published what its service stored).

This is how a test says "nothing more will happen" without waiting a fixed time: once the
platform is quiet, an effect that has not happened will not happen. Timers still waiting in
their delay queues (order deadlines far ahead) are not activity; parked messages are not
either, and `parked` lists them (through the operators' own tool).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from pymongo import AsyncMongoClient

from devtools.platform import LocalPlatform
from oms.domain_events import EXCHANGE
from oms.platform.consumer import PARKING_SUFFIX

# Each service's collections whose documents carry an outbox (`oms.platform.outbox`).
OUTBOXES = {"order": "orders", "payment": "payments", "kitchen": "kitchen_tickets"}
# RabbitMQ's management statistics are refreshed once a second (`collect_statistics_interval`).
STATS_INTERVAL = 1.0


@dataclass(frozen=True)
class Activity:
    """What still moves on a platform; `quiet` when there is nothing."""

    queued: dict[str, int]  # queue -> messages ready or unacknowledged
    unpublished: dict[str, int]  # service -> events stored and not yet published

    @property
    def quiet(self) -> bool:
        return not self.queued and not self.unpublished


async def queues(platform: LocalPlatform) -> list[dict[str, Any]]:
    """The platform's queues as RabbitMQ's management API reports them."""
    url = f"{platform.rabbitmq.management_url}/api/queues/{quote(platform.vhost, safe='')}"
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as http:
        response = await http.get(url)
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


def _is_work(name: str) -> bool:
    """Queues whose messages are work in progress (not timers waiting, not parked)."""
    return not name.endswith(PARKING_SUFFIX) and not name.startswith(f"{EXCHANGE}.delay.")


async def staged(platform: LocalPlatform) -> dict[str, list[str]]:
    """Per service, the types of the events stored and not yet published (read-only)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        platform.base_env["MONGODB_URL"], serverSelectionTimeoutMS=10_000
    )
    try:
        found: dict[str, list[str]] = {}
        for service, collection in OUTBOXES.items():
            documents = client[platform.database_name(service)][collection]
            query = {"outbox": {"$exists": True, "$ne": {}}}
            async for doc in documents.find(query, {"outbox": 1}):
                types = [entry["event"]["type"] for entry in doc["outbox"].values()]
                found.setdefault(service, []).extend(types)
    finally:
        await client.close()
    return found


async def activity(platform: LocalPlatform) -> Activity:
    queued = {
        q["name"]: int(q.get("messages_ready", 0)) + int(q.get("messages_unacknowledged", 0))
        for q in await queues(platform)
        if _is_work(q["name"])
    }
    waiting = {service: len(types) for service, types in (await staged(platform)).items()}
    return Activity({name: n for name, n in queued.items() if n}, waiting)


async def until_quiet(platform: LocalPlatform, within: float = 60.0) -> None:
    """Until the platform has been quiet for longer than the broker's statistics lag."""
    deadline = time.monotonic() + within
    quiet_since: float | None = None
    while True:
        now = time.monotonic()
        state = await activity(platform)
        if not state.quiet:
            quiet_since = None
        elif quiet_since is None:
            quiet_since = now
        elif now - quiet_since > 2 * STATS_INTERVAL:
            return
        if now > deadline:
            raise AssertionError(f"the platform is still busy after {within}s: {state}")
        await asyncio.sleep(0.25)


async def parked(platform: LocalPlatform) -> dict[str, Any]:
    """`python -m oms.ops.parking list --json` on the platform's vhost."""
    tool = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "oms.ops.parking", "list", "--json"),
        env={**platform.base_env, "RABBITMQ_URL": platform.amqp_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(tool.communicate(), 60)
    if tool.returncode != 0:
        raise RuntimeError(f"the parking tool failed ({tool.returncode}): {err.decode()}")
    listing: dict[str, Any] = json.loads(out)
    return listing
