"""CPU per operation of the FerretDB wrapper on one backend, for OMS's access pattern.

Starts `.cache/servers/bin/ferretdb` with the backend asked for, then, on a collection of a
few and of 5,000 documents, runs each operation CALLS times one after another and divides the
CPU time the processes spent (from /proc: the wrapper, and with PostgreSQL its postmaster and
every backend process, live or exited) by CALLS. Then checks whether 200 concurrent
conditional decrements of a counter of 50 stay atomic, through the proxy and straight on
FerretDB's private socket. How to run it is in scripts/servers/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import tempfile
import time
import urllib.parse
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

BINARY = Path(__file__).resolve().parent.parent / ".cache" / "servers" / "bin" / "ferretdb"
CALLS = 1_000
SIZES = (10, 5_000)
Document = dict[str, Any]


def ticks(pid: int) -> tuple[int, int]:
    """(utime + stime, cutime + cstime) of pid, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    return found


def postgres_seconds(postmaster: int | None) -> float:
    """CPU of a PostgreSQL cluster: postmaster, its live children, and those it reaped."""
    if postmaster is None:
        return 0.0
    own, reaped = ticks(postmaster)
    total = own + reaped
    for child in children(postmaster):
        try:
            total += ticks(child)[0]
        except OSError:
            continue  # exited meanwhile: now in the postmaster's reaped ticks
    return total / os.sysconf("SC_CLK_TCK")


def ferretdb_seconds(pid: int) -> float:
    return ticks(pid)[0] / os.sysconf("SC_CLK_TCK")


def order(i: int) -> Document:
    return {"_id": f"o-{i:05d}", "state": {"status": "pending"}, "stock": {"n": 10**9}, "i": i}


async def measure(
    call: Callable[[int], Awaitable[object]], pid: int, postmaster: int | None
) -> tuple[float, float]:
    """Milliseconds of CPU per call: (ferretdb, postgres)."""
    f0, p0 = ferretdb_seconds(pid), postgres_seconds(postmaster)
    for k in range(CALLS):
        await call(k)
    f1, p1 = ferretdb_seconds(pid), postgres_seconds(postmaster)
    return (f1 - f0) * 1000 / CALLS, (p1 - p0) * 1000 / CALLS


def operations(
    coll: AsyncCollection[Document], last: str
) -> dict[str, Callable[[int], Awaitable[object]]]:
    condition = {"_id": last, "state.status": {"$in": ["pending", "paid"]}}
    return {
        "insert": lambda k: coll.insert_one(order(100_000 + k)),
        "find by _id": lambda k: coll.find_one({"_id": last}),
        "update by _id": lambda k: coll.update_one({"_id": last}, {"$set": {"v": k}}),
        "update by _id + dotted condition": lambda k: coll.update_one(
            condition, {"$set": {"v": k}}
        ),
        "findAndModify by _id + dotted condition": lambda k: coll.find_one_and_update(
            condition, {"$set": {"v": k}}
        ),
    }


async def decrements(url: str) -> int:
    """Successes of 200 concurrent conditional decrements of a counter of 50."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(url, maxPoolSize=50)
    ledger = client.bench.ledger
    await ledger.drop()
    await ledger.insert_one({"_id": "ledger", "items": {"pizza": {"available": 50}}})

    async def take() -> int:
        result = await ledger.update_one(
            {"_id": "ledger", "items.pizza.available": {"$gte": 1}},
            {"$inc": {"items.pizza.available": -1}},
        )
        return result.modified_count

    taken = sum(await asyncio.gather(*(take() for _ in range(200))))
    await client.close()
    return taken


async def run(url: str, direct: str, pid: int, postmaster: int | None) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(url)
    print("| operation | documents | ferretdb ms | postgres ms | total ms |")
    print("| --- | --- | --- | --- | --- |")
    for size in SIZES:
        coll = client.bench[f"orders_{size}"]
        await coll.drop()
        for start in range(0, size, 1_000):
            await coll.insert_many([order(i) for i in range(start, min(size, start + 1_000))])
        for name, call in operations(coll, order(size - 1)["_id"]).items():
            ferretdb, postgres = await measure(call, pid, postmaster)
            total = ferretdb + postgres
            print(f"| {name} | {size} | {ferretdb:.2f} | {postgres:.2f} | {total:.2f} |")
    await client.close()
    print(f"200 decrements of 50 through the proxy: {await decrements(url)} succeeded")
    print(f"200 decrements of 50 on FerretDB's own socket: {await decrements(direct)} succeeded")


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handler", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--postgresql-url", default="")
    parser.add_argument("--postmaster-pid", type=int, help="the cluster's postmaster, to count")
    parser.add_argument("--binary", default=str(BINARY), help="a wrapper build to measure")
    args = parser.parse_args()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen(  # noqa: S603 (our own binary, our own arguments)
            [
                args.binary,
                f"-listen-addr=127.0.0.1:{port}",
                f"-sqlite-dir={data}",
                f"-handler={args.handler}",
                f"-postgresql-url={args.postgresql_url}",
            ]
        )
        try:
            while not listening(port):
                if server.poll() is not None:
                    raise SystemExit("ferretdb exited")
                time.sleep(0.1)
            private = Path(tempfile.gettempdir()) / f"oms-ferretdb-{server.pid}.sock"
            direct = "mongodb://" + urllib.parse.quote_plus(str(private))
            url = f"mongodb://127.0.0.1:{port}/"
            asyncio.run(run(url, direct, server.pid, args.postmaster_pid))
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
