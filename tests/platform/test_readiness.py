"""Readiness that tells the truth, on a real service process: `/readyz`, gRPC health and the
Consul check turn down while MongoDB or RabbitMQ is stopped and up once it is back. With
`OPS_READY_WITHOUT_BROKER=true` a service that accepts work only reports RabbitMQ as degraded
(its outbox keeps what it accepts), but a consumer-only one still turns down. `/metrics`
counts the MongoDB commands the process sends."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from devtools import servers
from oms.domain_events import EXCHANGE
from oms.platform import grpc_client, mongo
from oms.platform.broker import Broker
from oms.platform.discovery import Discovery
from oms.platform.events import Event
from oms.platform.settings import ConsulSettings, GrpcSettings, MongoSettings, RabbitMQSettings
from tests.platform.sample_process import SampleProcess, sample_process


async def test_readiness_follows_rabbitmq_down_and_back(
    tmp_path: Path,
    consul: servers.Consul,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> None:
    # A RabbitMQ of the test's own: stopping the session's would upset every other test.
    own = servers.RabbitMQ(tmp_path / "rabbitmq")
    await asyncio.to_thread(own.start)
    channels = grpc_client.Channels(GrpcSettings())
    try:
        async with sample_process(
            tmp_path, own.amqp_url, mongo_settings, consul, OPS_CHECK_INTERVAL_SECONDS="0.2"
        ) as sample:
            discovery = Discovery(
                ConsulSettings(
                    http_addr=consul.http_address,
                    cache_ttl_seconds=0,
                    service_prefix=sample.prefix,
                )
            )
            channel = channels.get(sample.grpc_address)
            try:
                await sample.wait(lambda: _ready(sample, 200, []))
                await sample.wait(lambda: _listed(discovery, [sample.grpc_address]))
                assert await grpc_client.check_health(channel, "sample") == "SERVING"

                await asyncio.to_thread(own.stop)

                await sample.wait(lambda: _ready(sample, 503, ["rabbitmq"]))
                assert await grpc_client.check_health(channel) == "NOT_SERVING"
                assert await grpc_client.check_health(channel, "sample") == "NOT_SERVING"
                await sample.wait(lambda: _listed(discovery, []))  # Consul stops sending work

                await asyncio.to_thread(own.start)  # same ports, same data

                await sample.wait(lambda: _ready(sample, 200, []), within=60)
                assert await grpc_client.check_health(channel, "sample") == "SERVING"
                await sample.wait(lambda: _listed(discovery, [sample.grpc_address]))
                # And it works again: its consumer takes the next event.
                await _publish_work(own.amqp_url)
                await sample.wait(lambda: _handled_once(mongo_client, mongo_settings))
            finally:
                await discovery.close()
                await mongo_client.drop_database(f"{mongo_settings.database}_sample")
    finally:
        await channels.close()
        await asyncio.to_thread(own.stop)


async def test_readiness_follows_mongodb_down_and_back(
    tmp_path: Path, rabbitmq: servers.RabbitMQ, consul: servers.Consul
) -> None:
    # A MongoDB-wire server of the test's own: every other test uses the session's.
    own = servers.FerretDB(tmp_path / "ferretdb")
    await asyncio.to_thread(own.start)
    settings = MongoSettings(url=own.mongodb_url, database="t_readiness")
    channels = grpc_client.Channels(GrpcSettings())
    try:
        async with sample_process(
            tmp_path, rabbitmq.amqp_url, settings, consul, OPS_CHECK_INTERVAL_SECONDS="0.2"
        ) as sample:
            discovery = Discovery(
                ConsulSettings(
                    http_addr=consul.http_address, cache_ttl_seconds=0, service_prefix=sample.prefix
                )
            )
            channel = channels.get(sample.grpc_address)
            try:
                await sample.wait(lambda: _ready(sample, 200, []))
                await sample.wait(lambda: _listed(discovery, [sample.grpc_address]))

                await asyncio.to_thread(own.stop)

                await sample.wait(lambda: _ready(sample, 503, ["mongodb"]))
                assert await grpc_client.check_health(channel, "sample") == "NOT_SERVING"
                await sample.wait(lambda: _listed(discovery, []))

                await asyncio.to_thread(own.start)  # same port, same data

                await sample.wait(lambda: _ready(sample, 200, []), within=60)
                assert await grpc_client.check_health(channel, "sample") == "SERVING"
                await sample.wait(lambda: _listed(discovery, [sample.grpc_address]))
            finally:
                await discovery.close()
    finally:
        await channels.close()
        await asyncio.to_thread(own.stop)


async def test_ready_without_broker_keeps_a_service_that_accepts_work_ready_but_not_a_consumer(
    tmp_path: Path, consul: servers.Consul, mongo_settings: MongoSettings
) -> None:
    own = servers.RabbitMQ(tmp_path / "rabbitmq")
    await asyncio.to_thread(own.start)
    channels = grpc_client.Channels(GrpcSettings())
    allowed = {"OPS_CHECK_INTERVAL_SECONDS": "0.2", "OPS_READY_WITHOUT_BROKER": "true"}
    try:
        async with (
            sample_process(
                tmp_path / "accepts", own.amqp_url, mongo_settings, consul, **allowed
            ) as accepting,
            sample_process(
                tmp_path / "consumes",
                own.amqp_url,
                mongo_settings,
                consul,
                SAMPLE_BROKER_REQUIRED="true",
                **allowed,
            ) as consuming,
        ):
            channel = channels.get(accepting.grpc_address)
            await accepting.wait(lambda: _ready(accepting, 200, []))
            await consuming.wait(lambda: _ready(consuming, 200, []))

            await asyncio.to_thread(own.stop)

            await accepting.wait(lambda: _ready(accepting, 200, [], degraded=["rabbitmq"]))
            assert await grpc_client.check_health(channel, "sample") == "SERVING"
            await consuming.wait(lambda: _ready(consuming, 503, ["rabbitmq"]))

            await asyncio.to_thread(own.start)

            await accepting.wait(lambda: _ready(accepting, 200, [], degraded=[]), within=60)
            await consuming.wait(lambda: _ready(consuming, 200, []), within=60)
    finally:
        await channels.close()
        await asyncio.to_thread(own.stop)


async def test_metrics_count_the_mongodb_commands_the_process_sends(
    tmp_path: Path,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
    broker: Broker,
    mongo_client: AsyncMongoClient[mongo.Document],
    mongo_settings: MongoSettings,
) -> None:
    async with sample_process(tmp_path, rabbitmq.amqp_url, mongo_settings, consul) as sample:
        try:
            await sample.wait(lambda: _ready(sample, 200, []))
            before = await _mongo_commands(sample)

            # Each piece of work is one insert and one update.
            for _ in range(3):
                await broker.publish(Event(type="sample.work", data={"seconds": 0}))

            async def counted() -> bool:
                now = await _mongo_commands(sample)
                return now.get("update", 0.0) - before.get("update", 0.0) >= 3

            await sample.wait(counted)
            after = await _mongo_commands(sample)
            assert after["insert"] - before.get("insert", 0.0) >= 3
            assert after["ping"] >= 1  # the readiness check's, every few seconds
        finally:
            await mongo_client.drop_database(f"{mongo_settings.database}_sample")


async def _ready(
    sample: SampleProcess, status: int, failing: list[str], degraded: list[str] | None = None
) -> bool:
    try:
        async with httpx.AsyncClient(base_url=sample.ops_url, timeout=2) as http:
            response = await http.get("/readyz")
    except httpx.HTTPError:
        return False  # not listening yet
    body: dict[str, Any] = response.json()
    if degraded is not None and body["degraded"] != degraded:
        return False
    return response.status_code == status and body["failing"] == failing


async def _listed(discovery: Discovery, expected: list[str]) -> bool:
    return await discovery.healthy("sample") == expected


async def _mongo_commands(sample: SampleProcess) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=sample.ops_url, timeout=2) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name == "oms_mongo_commands":  # the parser drops `_total`
            for sample_ in family.samples:
                if sample_.name == "oms_mongo_commands_total":
                    command = sample_.labels["command"]
                    counts[command] = counts.get(command, 0.0) + sample_.value
    return counts


async def _publish_work(amqp_url: str) -> None:
    broker = Broker(RabbitMQSettings(url=amqp_url), EXCHANGE, name="readiness-test")
    await broker.connect()
    try:
        await broker.publish(Event(type="sample.work", data={"seconds": 0}))
    finally:
        await broker.close()


async def _handled_once(
    mongo_client: AsyncMongoClient[mongo.Document], mongo_settings: MongoSettings
) -> bool:
    work = mongo.database(mongo_client, mongo_settings, "sample").work
    return await work.count_documents({"state": "done"}) == 1
