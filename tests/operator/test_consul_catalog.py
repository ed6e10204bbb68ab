"""Catalog entries for a restaurant (pure); the real Consul is in test_lifecycle."""

from __future__ import annotations

from oms_operator import consul_catalog
from tests.operator import examples


def test_one_entry_per_service_on_the_restaurants_own_node() -> None:
    entries = consul_catalog.registrations(examples.restaurant(namespace="food"))

    assert {e["Node"] for e in entries} == {"oms-food-trattoria"}
    services = {e["Service"]["Service"]: e["Service"] for e in entries}
    assert set(services) == {
        f"trattoria-{s}" for s in ("menu", "stock", "order", "payment", "kitchen", "gateway")
    }
    menu = services["trattoria-menu"]
    assert menu["Address"] == "trattoria-menu.food.svc"
    assert menu["Port"] == 50051
    assert menu["Meta"]["restaurant"] == "trattoria"
    assert services["trattoria-gateway"]["Port"] == 8080
