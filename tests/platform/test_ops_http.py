"""The ops HTTP server every process runs: `/healthz` while the process answers, `/readyz`
naming the dependencies that fail, `/metrics` in Prometheus' text format."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from oms.platform import metrics
from oms.platform.ops_http import OpsServer


class Dependencies:
    def __init__(self) -> None:
        self.state = {"mongodb": True, "rabbitmq": True}

    required: frozenset[str] = frozenset({"mongodb", "rabbitmq"})

    def __call__(self) -> tuple[dict[str, bool], frozenset[str]]:
        return dict(self.state), self.required


@pytest.fixture
def dependencies() -> Dependencies:
    return Dependencies()


@pytest.fixture
async def http(dependencies: Dependencies) -> AsyncIterator[httpx.AsyncClient]:
    server = OpsServer("127.0.0.1", 0, dependencies)
    port = await server.start()  # port 0: a free one, reported
    assert port == server.port != 0
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        yield client
    await server.stop()


async def test_readyz_answers_200_while_every_dependency_is_up_and_503_naming_those_down(
    http: httpx.AsyncClient, dependencies: Dependencies
) -> None:
    ready = await http.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        200,
        {
            "ready": True,
            "checks": {"mongodb": True, "rabbitmq": True},
            "failing": [],
            "degraded": [],
        },
    )

    dependencies.state = {"mongodb": False, "rabbitmq": False}
    down = await http.get("/readyz")
    assert (down.status_code, down.json()["failing"]) == (503, ["mongodb", "rabbitmq"])
    assert down.json()["ready"] is False

    # The process itself still answers: liveness is not readiness.
    alive = await http.get("/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})


async def test_metrics_are_served_in_the_prometheus_text_format(http: httpx.AsyncClient) -> None:
    metrics.KITCHEN_BUSY_COOKS.set(2)  # the process's own registry, as the services fill it

    response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {"oms_rpc_server_seconds", "oms_mongo_commands", "oms_events_published"} <= names
    assert "oms_kitchen_busy_cooks 2.0" in response.text.splitlines()


async def test_a_degrading_dependency_down_is_named_but_the_process_stays_ready(
    http: httpx.AsyncClient, dependencies: Dependencies
) -> None:
    dependencies.required = frozenset({"mongodb"})  # RabbitMQ only delays its events
    dependencies.state = {"mongodb": True, "rabbitmq": False}

    answer = await http.get("/readyz")

    assert (answer.status_code, answer.json()) == (
        200,
        {
            "ready": True,
            "checks": {"mongodb": True, "rabbitmq": False},
            "failing": [],
            "degraded": ["rabbitmq"],
        },
    )
