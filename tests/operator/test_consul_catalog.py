"""A restaurant's Consul catalog entries: what they say, and on the real Consul."""

from __future__ import annotations

import httpx

from devtools import servers
from oms_operator import consul_catalog
from oms_operator.model import Restaurant
from tests.operator import examples


def test_one_entry_per_service_on_the_restaurants_own_node() -> None:
    entries = consul_catalog.registrations(examples.restaurant(namespace="food"))

    assert {e["Node"] for e in entries} == {"oms-food-trattoria"}
    services = {e["Service"]["Service"]: e["Service"] for e in entries}
    assert set(services) == {
        f"food-trattoria-{s}" for s in ("menu", "stock", "order", "payment", "kitchen", "gateway")
    }
    menu = services["food-trattoria-menu"]
    assert menu["Address"] == "trattoria-menu.food.svc"
    assert menu["Port"] == 50051
    assert menu["Meta"]["restaurant"] == "trattoria"
    assert services["food-trattoria-gateway"]["Port"] == 8080


async def test_register_is_idempotent_and_deregister_removes_every_entry(
    consul: servers.Consul,
) -> None:
    document = examples.restaurant_document()
    spec = document["spec"] | {"consul": {"address": consul.http_address}}
    restaurant = Restaurant.parse("food", "trattoria", spec)
    base = f"http://{consul.http_address}/v1/catalog"
    async with httpx.AsyncClient(timeout=10) as http:
        assert await consul_catalog.register(http, restaurant) == 6
        assert await consul_catalog.register(http, restaurant) == 6

        listed = (await http.get(f"{base}/node-services/oms-food-trattoria")).json()
        assert len(listed["Services"]) == 6
        entry = (await http.get(f"{base}/service/food-trattoria-kitchen")).json()
        assert entry[0]["ServiceMeta"]["restaurant"] == "trattoria"
        assert entry[0]["ServiceAddress"] == "trattoria-kitchen.food.svc"

        await consul_catalog.deregister(http, consul.http_address, "oms-food-trattoria")
        await consul_catalog.deregister(http, consul.http_address, "oms-food-trattoria")

        services = (await http.get(f"{base}/services")).json()
        assert not [name for name in services if name.startswith("food-trattoria-")]
