"""Session fixtures: the real servers, started on loopback only when a test asks for them.

Binaries come from `scripts/provision-servers` (the test command runs it first). Each server
runs in `.cache/test-servers/<run>/<name>/`, a folder per test session kept after it, so a
failing run leaves its server logs behind for reading; only the newest few runs are kept.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from devtools import servers
from devtools.kube import ControlPlane
from oms.domain_events import EXCHANGE
from oms.platform import broker as broker_module
from oms.platform import mongo
from oms.platform.settings import MongoSettings, RabbitMQSettings

REPO = Path(__file__).resolve().parent.parent
SERVERS_DIR = REPO / ".cache" / "test-servers"
KEEP_RUNS = 5


@pytest.fixture(scope="session")
def servers_dir() -> Path:
    # A folder per session, so two test runs on one machine never share or wipe servers.
    SERVERS_DIR.mkdir(parents=True, exist_ok=True)
    for old in sorted(p for p in SERVERS_DIR.iterdir() if p.is_dir())[:-KEEP_RUNS]:
        shutil.rmtree(old, ignore_errors=True)
    run = SERVERS_DIR / f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    run.mkdir()
    return run


@pytest.fixture(scope="session")
def rabbitmq(servers_dir: Path) -> Iterator[servers.RabbitMQ]:
    server = servers.RabbitMQ(servers_dir / "rabbitmq")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ferretdb(servers_dir: Path) -> Iterator[servers.FerretDB]:
    server = servers.FerretDB(servers_dir / "ferretdb")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def consul(servers_dir: Path) -> Iterator[servers.Consul]:
    server = servers.Consul(servers_dir / "consul")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def jaeger(servers_dir: Path) -> Iterator[servers.Jaeger]:
    server = servers.Jaeger(servers_dir / "jaeger")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def stripe_mock(servers_dir: Path) -> Iterator[servers.StripeMock]:
    server = servers.StripeMock(servers_dir / "stripe-mock")
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def kube(servers_dir: Path) -> Iterator[ControlPlane]:
    control_plane = ControlPlane(servers_dir / "kube")
    control_plane.start()
    yield control_plane
    control_plane.stop()


@pytest.fixture
def rabbitmq_settings(rabbitmq: servers.RabbitMQ) -> RabbitMQSettings:
    # Short delays keep retry tests quick; production defaults are seconds to minutes.
    return RabbitMQSettings(url=rabbitmq.amqp_url, retry_delays_ms=[200, 400, 800])


@pytest.fixture
async def broker(
    rabbitmq_settings: RabbitMQSettings,
) -> AsyncIterator[broker_module.Broker]:
    # The platform's own exchange: tests use routing keys of their own on it.
    connected = broker_module.Broker(rabbitmq_settings, EXCHANGE, name="oms-tests")
    await connected.connect()
    yield connected
    await connected.close()


@pytest.fixture
def mongo_settings(ferretdb: servers.FerretDB, request: pytest.FixtureRequest) -> MongoSettings:
    # A database per test: no test sees another's documents.
    readable = re.sub(r"[^A-Za-z0-9_]", "_", request.node.name)[:40]
    name = f"t_{readable}_{uuid.uuid4().hex[:6]}"
    return MongoSettings(url=ferretdb.mongodb_url, database=name)


@pytest.fixture
async def mongo_client(
    mongo_settings: MongoSettings,
) -> AsyncIterator[AsyncMongoClient[mongo.Document]]:
    client = mongo.connect(mongo_settings)
    yield client
    await client.drop_database(mongo_settings.database)
    await client.close()
