"""The staff's failure switch for demos: `GET` and `PUT /api/admin/faults/{service}` read and
replace the faults of every instance of a service, through Consul, on the real processes.

A pause holds a consumer's messages until it is lifted; an error answers every call of an
RPC with its status. A service that takes no faults (outside the development mode, without
`FAULTS_ENABLED`) answers 409 and nothing changes anywhere; a fault the services would
refuse is refused by the gateway with its reason.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from devtools.faults import ProcessFaults
from devtools.platform import LocalPlatform, ServiceProcess
from oms.platform.faults import Fault
from tests.gateway.conftest import OwnPlatform
from tests.gateway.helpers import Customer, Json, error_of, eventually

GET_LEVELS = "rpc:/oms.contracts.v1.StockService/GetLevels"
KITCHEN_ORDERS = "consumer:kitchen.orders"


@pytest.fixture
async def lifted(admin: httpx.AsyncClient) -> AsyncIterator[None]:
    """Whatever a test leaves in force is lifted from every service after it."""
    yield
    for service in ("menu", "stock", "order", "payment", "kitchen"):
        response = await admin.put(f"/api/admin/faults/{service}", json={"faults": []})
        assert response.status_code == 200, response.text


async def faults_of(admin: httpx.AsyncClient, service: str) -> Json:
    response = await admin.get(f"/api/admin/faults/{service}")
    assert response.status_code == 200, response.text
    body: Json = response.json()
    assert body["service"] == service
    return body


def addresses(processes: list[ServiceProcess]) -> list[str]:
    return sorted(f"127.0.0.1:{process.port}" for process in processes)


async def test_a_paused_kitchen_holds_a_paid_order_until_staff_lift_the_pause(
    admin: httpx.AsyncClient, alice: Customer, stocked_item: str, lifted: None
) -> None:
    pause = {"faults": [{"target": KITCHEN_ORDERS, "action": "pause"}]}

    paused = await admin.put("/api/admin/faults/kitchen", json=pause)
    order = await alice.place((stocked_item, 1))
    await alice.pay(order["id"])

    assert paused.status_code == 200, paused.text
    (kitchen,) = paused.json()["instances"]
    assert kitchen["faults"] == [
        {"target": KITCHEN_ORDERS, "action": "pause", "seconds": 0.0, "code": "UNAVAILABLE"}
    ]

    async def holding() -> bool:
        (instance,) = (await faults_of(admin, "kitchen"))["instances"]
        return bool(instance["held"] == {KITCHEN_ORDERS: 1})

    await eventually(holding)
    assert (await alice.get(order["id"]))["status"] == "paid"  # no cook has seen it

    lifting = await admin.put("/api/admin/faults/kitchen", json={"faults": []})

    assert lifting.status_code == 200, lifting.text
    assert lifting.json()["instances"][0]["faults"] == []
    await alice.wait_for(order["id"], "ready")
    assert (await faults_of(admin, "kitchen"))["instances"][0]["held"] == {}


async def test_an_error_fault_answers_every_call_of_the_rpc_until_lifted(
    admin: httpx.AsyncClient, stocked_item: str, lifted: None
) -> None:
    error = {"target": GET_LEVELS, "action": "error", "code": "UNAVAILABLE"}

    put = await admin.put("/api/admin/faults/stock", json={"faults": [error]})
    failing = await admin.get("/api/admin/stock", params={"item_id": stocked_item})
    await admin.put("/api/admin/faults/stock", json={"faults": []})
    working = await admin.get("/api/admin/stock", params={"item_id": stocked_item})

    assert put.status_code == 200, put.text
    assert put.json()["instances"][0]["faults"] == [error | {"seconds": 0.0}]
    assert failing.status_code == 503, failing.text
    assert error_of(failing)["code"] == "unavailable"
    assert working.status_code == 200, working.text


async def test_every_instance_of_the_service_gets_the_faults(own_platform: OwnPlatform) -> None:
    # Its own platform: a second Stock would otherwise join the shared one's.
    platform = await own_platform("stock", "gateway")
    extra = await asyncio.to_thread(platform.start_service, "stock")
    both = addresses(platform.running("stock"))
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    async with httpx.AsyncClient(
        base_url=platform.gateway_url, headers=headers, timeout=30
    ) as admin:

        async def sees_both() -> bool:
            response = await admin.get("/api/admin/faults/stock")
            found = response.json().get("instances", []) if response.status_code == 200 else []
            return [i["address"] for i in found] == both

        await eventually(sees_both, within=30)
        delay = {"target": GET_LEVELS, "action": "delay", "seconds": 0.01, "code": "UNAVAILABLE"}

        put = await admin.put("/api/admin/faults/stock", json={"faults": [delay]})
        held = [await ProcessFaults(platform, p).rules() for p in platform.running("stock")]
        await asyncio.to_thread(extra.stop)

        async def sees_one() -> bool:
            # Until its view of Consul is refreshed, the gateway answers 503 for the one gone.
            response = await admin.get("/api/admin/faults/stock")
            return response.status_code == 200 and len(response.json()["instances"]) == 1

        await eventually(sees_one)

    assert len(both) == 2
    assert put.status_code == 200, put.text
    assert [(i["address"], i["faults"]) for i in put.json()["instances"]] == [
        (address, [delay]) for address in both
    ]
    # As each process itself says.
    assert held == [[Fault.model_validate(delay)]] * 2


@pytest.mark.parametrize(
    ("fault", "location", "reason"),
    [
        ({"target": GET_LEVELS, "action": "pause"}, "body.faults[0]", "applies to a consumer"),
        ({"target": "stock", "action": "delay"}, "body.faults[0].target", "should match pattern"),
        ({"target": GET_LEVELS, "action": "explode"}, "body.faults[0].action", "'delay', 'error'"),
        (
            {"target": GET_LEVELS, "action": "delay", "seconds": 601},
            "body.faults[0].seconds",
            "less than or equal to 600",
        ),
        (
            {"target": GET_LEVELS, "action": "delay", "seconds": "1"},
            "body.faults[0].seconds",
            "valid number",
        ),
        (
            {"target": GET_LEVELS, "action": "error", "code": "OK"},
            "body.faults[0].code",
            "gRPC failure status",
        ),
        (
            {"target": "rpc:/oms.contracts.v1.FaultService/SetFaults", "action": "error"},
            "body.faults[0].target",
            "takes no faults",
        ),
        ({"target": GET_LEVELS, "action": "delay", "when": "now"}, "body.faults[0].when", "Extra"),
    ],
)
async def test_a_fault_the_services_would_refuse_is_refused_with_its_reason(
    admin: httpx.AsyncClient, fault: dict[str, Any], location: str, reason: str
) -> None:
    response = await admin.put("/api/admin/faults/stock", json={"faults": [fault]})

    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["code"] == "invalid_request"
    (field,) = error["fields"]
    assert field["location"] == location
    assert reason in field["message"]
    assert all(i["faults"] == [] for i in (await faults_of(admin, "stock"))["instances"])


async def test_two_faults_on_one_target_are_refused(admin: httpx.AsyncClient) -> None:
    twice = [{"target": KITCHEN_ORDERS, "action": "pause"}] * 2

    response = await admin.put("/api/admin/faults/kitchen", json={"faults": twice})

    assert response.status_code == 422, response.text
    assert f"{KITCHEN_ORDERS} given more than once" in error_of(response)["message"]


@pytest.mark.parametrize("service", ["gateway", "inventory"])
async def test_an_unknown_service_is_refused_with_the_names_of_those_there_are(
    admin: httpx.AsyncClient, service: str
) -> None:
    read = await admin.get(f"/api/admin/faults/{service}")
    put = await admin.put(f"/api/admin/faults/{service}", json={"faults": []})

    for response in (read, put):
        assert response.status_code == 422, response.text
        (field,) = error_of(response)["fields"]
        assert field["location"] == "path.service"
        assert "'menu', 'stock', 'order', 'payment' or 'kitchen'" in field["message"]


async def test_a_service_that_takes_no_faults_answers_409_and_nothing_changes(
    platform: LocalPlatform,
) -> None:
    # A Consul prefix of the test's own: a gateway that finds two menus, the second run as
    # in production (faults off), and no other service.
    prefix = {"CONSUL_SERVICE_PREFIX": f"nofaults-{uuid.uuid4().hex[:6]}-"}
    production = {"OMS_MODE": "production", "GRPC_TLS_INSECURE": "true"}
    started: list[ServiceProcess] = []

    async def start(service: str, **env: str) -> ServiceProcess:
        process = await asyncio.to_thread(platform.start_service, service, **prefix, **env)
        started.append(process)
        return process

    try:
        takes_faults = await start("menu")
        gateway = await start("gateway")
        headers = {"Authorization": f"Bearer {platform.admin_token}"}
        base = f"http://127.0.0.1:{gateway.port}"
        async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as staff:

            async def answered_by(process: ServiceProcess, status: int) -> bool:
                response = await staff.get("/api/admin/faults/menu")
                return response.status_code == status and str(process.port) in response.text

            await eventually(lambda: answered_by(takes_faults, 200), within=30)
            no_faults = await start("menu", **production)
            await eventually(lambda: answered_by(no_faults, 409), within=30)
            delay = {"target": "rpc:/oms.contracts.v1.MenuService/ListItems", "action": "delay"}

            refused = await staff.put("/api/admin/faults/menu", json={"faults": [delay]})
            nobody = await staff.get("/api/admin/faults/stock")

        assert refused.status_code == 409, refused.text
        error = error_of(refused)
        assert error["code"] == "faults_disabled"
        assert f"127.0.0.1:{no_faults.port}" in error["message"]
        assert "OMS_MODE=development" in error["message"]
        assert "FAULTS_ENABLED=true" in error["message"]
        # The menu that takes faults was asked first too, and left as it was.
        assert await ProcessFaults(platform, takes_faults).rules() == []
        assert nobody.status_code == 503, nobody.text
        assert error_of(nobody)["code"] == "unavailable"
    finally:
        for process in reversed(started):
            await asyncio.to_thread(process.stop)
