"""`python -m oms.gateway` outside development refuses its documented placeholder secrets:
one line on stderr, exit 78, before it connects to anything."""

from __future__ import annotations

import pytest

from devtools import start_up
from oms.gateway.app import DEFAULT_SESSION_SECRET
from oms.gateway.auth import DEFAULT_ADMIN_TOKEN

# Plain gRPC on purpose, so that the secret under test is the only thing to refuse.
PRODUCTION = {"OMS_MODE": "production", "GRPC_TLS_INSECURE": "true"}
REAL_ADMIN_TOKEN = "a-real-admin-token"  # any value but the placeholder
REAL_SESSION_SECRET = "a-real-session-secret"


@pytest.mark.parametrize(
    ("secrets", "placeholder"),
    [
        (
            {
                "GATEWAY_ADMIN_TOKEN": DEFAULT_ADMIN_TOKEN,
                "GATEWAY_SESSION_SECRET": REAL_SESSION_SECRET,
            },
            "GATEWAY_ADMIN_TOKEN",
        ),
        ({"GATEWAY_SESSION_SECRET": REAL_SESSION_SECRET}, "GATEWAY_ADMIN_TOKEN"),
        (
            {
                "GATEWAY_ADMIN_TOKEN": REAL_ADMIN_TOKEN,
                "GATEWAY_SESSION_SECRET": DEFAULT_SESSION_SECRET,
            },
            "GATEWAY_SESSION_SECRET",
        ),
    ],
    ids=["admin token set to it", "admin token left unset", "session secret set to it"],
)
def test_production_refuses_a_placeholder_secret(secrets: dict[str, str], placeholder: str) -> None:
    done = start_up.run("oms.gateway", **PRODUCTION, **secrets)

    assert done.returncode == 78, done.stderr
    assert done.stderr.splitlines() == [
        f"gateway: refusing to start: {placeholder} is the documented placeholder"
    ]
