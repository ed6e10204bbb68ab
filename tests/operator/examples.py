"""The example resources of examples/, read as the tests need them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from oms_operator.model import Restaurant

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
CRD = REPO / "crds" / "restaurants.oms.dev.yaml"


def documents(name: str = "restaurant.yaml") -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


def restaurant_document(name: str = "restaurant.yaml") -> dict[str, Any]:
    (document,) = [d for d in documents(name) if d["kind"] == "Restaurant"]
    return document


def restaurant(name: str = "restaurant.yaml", namespace: str = "default") -> Restaurant:
    document = restaurant_document(name)
    return Restaurant.parse(namespace, document["metadata"]["name"], document["spec"])


def crd() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(CRD.read_text())
    return document


def spec_schema() -> dict[str, Any]:
    schema: dict[str, Any] = crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec: dict[str, Any] = schema["properties"]["spec"]
    return spec
