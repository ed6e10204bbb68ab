"""A restaurant's Consul catalog entries: what they say, and on the real Consul."""

from __future__ import annotations

import httpx

from devtools import servers
from devtools.process import free_port
from oms.platform.discovery import Discovery, Registration
from oms.platform.settings import ConsulSettings
from oms_operator import consul_catalog, naming
from oms_operator.model import Restaurant
from tests.operator import examples


def test_one_entry_per_service_on_the_restaurants_own_node() -> None:
    entries = consul_catalog.registrations(examples.restaurant(namespace="food"))

    assert {e["Node"] for e in entries} == {"oms-food-trattoria"}
    services = {e["Service"]["Service"]: e["Service"] for e in entries}
    assert set(services) == {
        f"food-trattoria-{s}-svc"
        for s in ("menu", "stock", "order", "payment", "kitchen", "gateway")
    }
    menu = services["food-trattoria-menu-svc"]
    assert menu["Address"] == "trattoria-menu.food.svc"
    assert menu["Port"] == 50051
    assert menu["Meta"]["restaurant"] == "trattoria"
    assert services["food-trattoria-gateway-svc"]["Port"] == 8080


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
        entry = (await http.get(f"{base}/service/food-trattoria-kitchen-svc")).json()
        assert entry[0]["ServiceMeta"]["restaurant"] == "trattoria"
        assert entry[0]["ServiceAddress"] == "trattoria-kitchen.food.svc"

        await consul_catalog.deregister(http, consul.http_address, "oms-food-trattoria")
        await consul_catalog.deregister(http, consul.http_address, "oms-food-trattoria")

        services = (await http.get(f"{base}/services")).json()
        assert not [name for name in services if name.startswith("food-trattoria-")]


async def test_the_catalog_entries_never_answer_for_the_pods_own_names(
    consul: servers.Consul,
) -> None:
    document = examples.restaurant_document()
    spec = document["spec"] | {"consul": {"address": consul.http_address}}
    restaurant = Restaurant.parse("east", "trattoria", spec)
    settings = ConsulSettings(
        http_addr=consul.http_address, service_prefix=restaurant.consul_prefix, cache_ttl_seconds=0
    )
    discovery = Discovery(settings)
    # A menu pod, registered as the services register, whose /readyz does not answer yet.
    pod = Registration("menu", "10.244.0.7", 50051, check_url=f"http://127.0.0.1:{free_port()}/")
    base = f"http://{consul.http_address}/v1"
    async with httpx.AsyncClient(timeout=10) as http:
        await discovery.register(pod)
        try:
            await consul_catalog.register(http, restaurant)

            # Entries without checks count as passing: under the pods' name, callers would
            # be sent to the Kubernetes Service while no pod is ready.
            assert await discovery.healthy("menu") == []
            names = set((await http.get(f"{base}/catalog/services")).json())
            assert {"east-trattoria-menu", "east-trattoria-menu-svc"} <= names
            checks = (await http.get(f"{base}/health/service/east-trattoria-menu-svc")).json()
            assert [c["CheckID"] for c in checks[0]["Checks"]] == []
        finally:
            await discovery.deregister(pod)
            await discovery.close()
            await consul_catalog.deregister(http, consul.http_address, "oms-east-trattoria")


async def test_registering_removes_entries_an_older_operator_left_on_the_node(
    consul: servers.Consul,
) -> None:
    document = examples.restaurant_document()
    spec = document["spec"] | {"consul": {"address": consul.http_address}}
    restaurant = Restaurant.parse("west", "trattoria", spec)
    (entry, *_) = consul_catalog.registrations(restaurant)
    # What the operator registered before the `-svc` suffix: the pods' own name.
    old = entry | {"Service": entry["Service"] | {"ID": "west-trattoria-menu"}}
    old["Service"]["Service"] = "west-trattoria-menu"
    base = f"http://{consul.http_address}/v1/catalog"
    async with httpx.AsyncClient(timeout=10) as http:
        (await http.put(f"{base}/register", json=old)).raise_for_status()

        await consul_catalog.register(http, restaurant)

        listed = (await http.get(f"{base}/node-services/oms-west-trattoria")).json()
        assert sorted(s["ID"] for s in listed["Services"]) == sorted(
            f"west-trattoria-{s}-svc" for s in naming.SERVICES
        )
        await consul_catalog.deregister(http, consul.http_address, "oms-west-trattoria")
