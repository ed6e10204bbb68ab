"""`python -m oms.payment` outside development refuses the documented placeholder webhook
secret: one line on stderr, exit 78, before it connects to anything."""

from __future__ import annotations

from devtools import start_up
from oms.payment.stripe_gateway import PLACEHOLDER_WEBHOOK_SECRET

# Plain gRPC on purpose, so that the webhook secret is the only thing to refuse.
PRODUCTION = {"OMS_MODE": "production", "GRPC_TLS_INSECURE": "true"}


def test_production_refuses_the_placeholder_webhook_secret() -> None:
    done = start_up.run(
        "oms.payment", **PRODUCTION, STRIPE_WEBHOOK_SECRET=PLACEHOLDER_WEBHOOK_SECRET
    )

    assert done.returncode == 78, done.stderr
    assert done.stderr.splitlines() == [
        "payment: refusing to start: STRIPE_WEBHOOK_SECRET is the documented placeholder; "
        "set your endpoint's secret, or OMS_MODE=development for a local run"
    ]


def test_production_without_a_webhook_secret_refuses_the_placeholder_default() -> None:
    done = start_up.run("oms.payment", **PRODUCTION)

    assert done.returncode == 78, done.stderr
    (line,) = done.stderr.splitlines()
    assert "STRIPE_WEBHOOK_SECRET is the documented placeholder" in line
