"""The CRD has one source; the operator chart ships exactly that file."""

from __future__ import annotations

from tests.operator import examples

CHART_CRD = examples.REPO / "charts" / "oms-operator" / "crds" / "restaurants.oms.dev.yaml"


def test_the_operator_chart_ships_the_crd_unchanged() -> None:
    assert CHART_CRD.read_bytes() == examples.CRD.read_bytes(), (
        "charts/oms-operator/crds/ must be crds/restaurants.oms.dev.yaml (a link to it)"
    )


def test_printer_columns_show_phase_kitchen_ready_and_age() -> None:
    version = examples.crd()["spec"]["versions"][0]
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}

    assert columns["Phase"] == ".status.phase"
    assert columns["Kitchen"] == ".status.kitchenWorkers"
    assert columns["Ready"] == ".status.readyServices"
    assert columns["Age"] == ".metadata.creationTimestamp"
    assert version["subresources"] == {"status": {}}


def test_the_spec_requires_what_cannot_be_defaulted() -> None:
    required = set(examples.spec_schema()["required"])

    assert required == {"displayName", "menu", "rabbitmq", "mongodb", "consul"}
    workers = examples.spec_schema()["properties"]["kitchen"]["properties"]["workers"]
    assert (workers["minimum"], workers["maximum"]) == (0, 50)
