"""The OpenAPI document is the gateway's contract, and a property-based run holds it to it.

Schemathesis sends every documented operation of the live gateway valid and invalid
requests (a fixed seed, a bounded number of examples): no answer may be a 5xx, use a status
or a content type the document does not declare for it, or break its declared schema, and
no invalid request may be accepted. Customer routes get a session of their own, staff
routes the admin token, as a real client would.

Tests are generated when pytest collects them, before any gateway runs, so the document is
built from the gateway's code; the first test checks it is the very one the live gateway
serves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, get_args

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case as SchemathesisCase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from devtools.platform import LocalPlatform
from oms.gateway.routes_faults import FaultyService
from tests.gateway.helpers import gateway_document

Case = SchemathesisCase[Any]
SEED = 20261201
EXAMPLES_PER_OPERATION = 25  # x 22 operations: about 550 requests


def undeclared_query_refused(ctx: Any, response: Any, case: Case) -> bool | None:
    """A query parameter the operation does not declare is refused with 422 (schemathesis'
    own negative check lets extra parameters pass, as most APIs ignore them)."""
    declared = {parameter.name for parameter in case.operation.query}
    extra = sorted(set(case.query or {}) - declared)
    # A path that routes nowhere (404) or a body over the limit (413) is refused first.
    if extra and response.status_code not in {404, 413, 422}:
        raise AssertionError(f"undeclared query {extra} accepted with {response.status_code}")
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
    undeclared_query_refused,
]


DOCUMENT = gateway_document()
CONFIG = schemathesis.Config.from_dict(
    {
        "seed": SEED,
        "request-timeout": 30,
        "generation": {"mode": "all", "max-examples": EXAMPLES_PER_OPERATION},
        # Explicit and generated examples only: the coverage phase's count is unbounded.
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
    }
)
# Staff's live stream never ends by itself; tests/gateway/test_live.py reads it.
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG).exclude(path="/api/admin/events")
LIVE: dict[str, str] = {}  # the running platform's address and admin token
# Headers that frame the HTTP message itself: a malformed one is refused by the HTTP server
# (uvicorn's 400, plain text) before any route runs, so it says nothing about the API.
FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection", "expect"})


@schema.hook("map_headers")
def _no_framing_headers(context: Any, headers: dict[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    return {name: value for name, value in headers.items() if name.lower() not in FRAMING}


@pytest.fixture(autouse=True)
def live(platform: LocalPlatform, gateway_url: str) -> Iterator[None]:
    LIVE.update(url=gateway_url, admin_token=platform.admin_token)
    yield
    # The failure switch's generated cases may have set faults: none outlive the test.
    headers = {"Authorization": f"Bearer {platform.admin_token}"}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=30) as staff:
        for service in get_args(FaultyService):
            lifted = staff.put(f"/api/admin/faults/{service}", json={"faults": []})
            assert lifted.status_code == 200, lifted.text


def _bearer(token: str, case: Case) -> None:
    case.headers["Authorization"] = f"Bearer {token}"


# Credentials are the platform's, known only once it runs: cases drawn while pytest collects
# (the document's own examples) go without, and get a 401 the document declares.
@schema.auth.auth(refresh_interval=None).apply_to(path_regex="^/api/admin/")
class StaffToken:
    def get(self, case: Case, context: Any) -> str | None:
        return LIVE.get("admin_token")

    def set(self, case: Case, data: str, context: Any) -> None:
        _bearer(data, case)


@schema.auth.auth(refresh_interval=None).apply_to(path_regex="^/api/orders")
class CustomerSession:
    """A session of its own, asked for once, as a new customer would."""

    def get(self, case: Case, context: Any) -> str | None:
        if "url" in LIVE and "session" not in LIVE:
            response = httpx.post(f"{LIVE['url']}/api/session", timeout=30)
            assert response.status_code == 201, response.text
            LIVE["session"] = response.json()["token"]
        return LIVE.get("session")

    def set(self, case: Case, data: str, context: Any) -> None:
        _bearer(data, case)


async def test_the_live_gateway_serves_this_document(http: httpx.AsyncClient) -> None:
    response = await http.get("/openapi.json")

    assert response.status_code == 200
    assert response.json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=list(HealthCheck),
)
def test_the_gateway_keeps_its_openapi_contract(case: Case) -> None:
    case.call_and_validate(base_url=LIVE["url"], checks=CHECKS)
