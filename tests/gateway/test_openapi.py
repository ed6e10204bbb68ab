"""What the OpenAPI document promises, and that its limits are the services' own.

The limits the gateway validates come from `oms.limits`, the one source the services check
too: the document states those values, and no gateway module writes a limit as a literal.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from oms import limits
from oms.gateway import schemas
from tests.gateway.helpers import gateway_document

GATEWAY = Path(schemas.__file__).parent
ERROR = {"$ref": "#/components/schemas/ErrorBody"}
# Keywords that bound an input; a literal there would be a second source for a limit.
LIMIT_KEYWORDS = {"ge", "gt", "le", "lt", "min_length", "max_length", "pattern", "multiple_of"}
NOT_LIMITS = {0, 1}  # "not negative", "at least one": not a rule anyone could change
DOCUMENT = gateway_document()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, methods in DOCUMENT["paths"].items()
        for method, operation in methods.items()
    ]


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = DOCUMENT["components"]["schemas"][name]
    return schema


def test_every_operation_declares_its_errors_with_the_error_body() -> None:
    for method, path, operation in _operations():
        responses = operation["responses"]
        assert "422" in responses, (method, path)  # an undeclared query parameter, at least
        if "requestBody" in operation:
            assert "413" in responses, (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")) and path != "/readyz":
                schema = response["content"]["application/json"]["schema"]
                assert schema == ERROR or schema["$ref"].endswith("ShortageBody"), (path, status)
    shortage = _schema("ShortageBody")
    assert shortage["properties"]["error"] == {"$ref": "#/components/schemas/Error"}
    assert shortage["required"] == ["error"]  # `shortages` only with insufficient_stock


def test_customer_and_staff_routes_declare_how_they_authenticate() -> None:
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes["CustomerSession"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The token `POST /api/session` gave",
    }
    assert schemes["CustomerCookie"]["in"] == "cookie"
    assert schemes["CustomerCookie"]["name"] == "oms_session"
    assert schemes["StaffCookie"]["name"] == "oms_staff"
    for method, path, operation in _operations():
        responses = set(operation["responses"])
        if path.startswith("/api/admin/"):
            assert {"StaffToken": []} in operation["security"], (method, path)
            assert {"401", "403"} <= responses, (method, path)
        elif path.startswith("/api/orders"):
            assert {"CustomerSession": []} in operation["security"], (method, path)
            assert "401" in responses, (method, path)
    tracked = DOCUMENT["paths"]["/api/orders/{order_id}"]["get"]["security"]
    assert {} in tracked  # a tracking link needs no credentials


def test_rate_limited_operations_declare_429() -> None:
    limited = {("POST", "/api/session"), ("POST", "/api/orders"), ("POST", "/webhooks/stripe")}
    declared = {
        (method, path): operation["responses"].get("429")
        for method, path, operation in _operations()
        if (method, path) in limited
    }

    assert set(declared) == limited
    for operation, response in declared.items():
        assert response is not None, operation
        assert response["content"]["application/json"]["schema"] == ERROR, operation
        assert "Retry-After" in response["description"], operation


def test_the_document_states_the_limits_of_oms_limits() -> None:
    line = _schema("OrderLineIn")
    order = _schema("OrderIn")
    item = _schema("MenuItemIn")
    create = DOCUMENT["paths"]["/api/orders"]["post"]
    (idempotency_key,) = create["parameters"]
    staff_orders = {p["name"]: p["schema"] for p in _parameters("/api/admin/orders", "get")}

    assert line["properties"]["quantity"]["maximum"] == limits.MAX_QUANTITY
    assert line["properties"]["id"]["pattern"] == limits.ITEM_ID_PATTERN
    assert line["additionalProperties"] is False
    assert order["properties"]["items"]["maxItems"] == limits.MAX_ITEMS
    assert item["properties"]["price"]["maximum"] == limits.MAX_PRICE_MINOR
    assert item["properties"]["name"]["maxLength"] == limits.MAX_NAME
    assert item["properties"]["description"]["maxLength"] == limits.MAX_DESCRIPTION
    assert item["properties"]["currency"]["pattern"] == limits.CURRENCY_PATTERN
    assert _schema("StockIn")["properties"]["on_hand"]["maximum"] == limits.MAX_ON_HAND
    assert _schema("ReasonIn")["properties"]["reason"]["maxLength"] == limits.MAX_REASON
    assert idempotency_key["schema"]["anyOf"][0]["maxLength"] == limits.MAX_IDEMPOTENCY_KEY
    assert staff_orders["q"]["pattern"] == limits.ID_PREFIX_PATTERN
    assert staff_orders["page_size"]["maximum"] == limits.MAX_PAGE_SIZE
    assert staff_orders["page_token"]["pattern"] == limits.TOKEN_PATTERN
    order_id = _parameters("/api/orders/{order_id}", "get")[0]["schema"]
    assert order_id["pattern"] == limits.ID_PATTERN


def _parameters(path: str, method: str) -> list[dict[str, Any]]:
    parameters: list[dict[str, Any]] = DOCUMENT["paths"][path][method]["parameters"]
    return parameters


def _literal_limits(module: Path) -> list[str]:
    """Each `keyword=<literal>` bounding an input in a call, as `file:line keyword=value`."""
    found = []
    for node in ast.walk(ast.parse(module.read_text())):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg in LIMIT_KEYWORDS and isinstance(value, ast.Constant):
                if value.value not in NOT_LIMITS or isinstance(value.value, str):
                    found.append(f"{module.name}:{value.lineno} {keyword.arg}={value.value!r}")
    return found


def test_no_gateway_module_writes_a_limit_as_a_literal() -> None:
    # The settings' own bounds (app.py: ports, durations) constrain the process, not requests.
    modules = sorted(m for m in GATEWAY.glob("*.py") if m.name != "app.py")
    assert len(modules) > 10

    literals = [found for module in modules for found in _literal_limits(module)]

    assert literals == [], "take these from oms.limits:\n" + "\n".join(literals)
