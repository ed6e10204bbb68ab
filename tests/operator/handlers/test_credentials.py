"""Credentials go only where they may, and never into what others can read.

Each Restaurant here takes one path (the broker login works, is wrong, is refused with a
login in the URL or for another namespace's Service, the AMQP port is closed, the Secret is
missing), then is deleted. After every one, the Restaurant's status, its annotations (but the
copies of the spec the user wrote) and the namespace's Events are searched for every
secret value, raw and URL-quoted, and so is the operator's log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from devtools import servers
from devtools.kube import ControlPlane, OperatorProcess
from devtools.process import free_port
from tests.operator import cluster

pytestmark = pytest.mark.timeout(300)
GUEST = ("guest", "guest")
# Copies of the spec the user wrote (a login in a URL they typed is theirs to keep out):
# kopf's, to diff the next change against, and kubectl apply's.
SPEC_COPIES = (
    "oms.dev/last-handled-configuration",
    "kubectl.kubernetes.io/last-applied-configuration",
)


@pytest.fixture(scope="module")
def login(rabbitmq: servers.RabbitMQ) -> Iterator[tuple[str, str]]:
    """A broker user of this module's own, with a password nothing else contains."""
    user, password = f"oms-{uuid.uuid4().hex[:8]}", f"pw/{uuid.uuid4().hex}@!"
    url = f"{rabbitmq.management_url}/api/users/{user}"
    body = {"password": password, "tags": "administrator"}
    httpx.put(url, json=body, auth=GUEST, timeout=10).raise_for_status()
    yield user, password
    httpx.delete(url, auth=GUEST, timeout=10)


def _documents(
    name: str, rabbitmq: servers.RabbitMQ, consul: servers.Consul, secrets: dict[str, str]
) -> list[dict[str, Any]]:
    documents = cluster.restaurant_documents(name, rabbitmq, consul)
    for document in documents:
        if document["kind"] == "Secret":
            document["metadata"]["name"] = f"{name}-{document['metadata']['name']}"
            if document["metadata"]["name"].endswith("rabbitmq"):
                document["stringData"] = {"username": secrets["user"], "password": secrets[name]}
            else:
                document["stringData"] = dict.fromkeys(document["stringData"], secrets["other"])
        else:
            spec = document["spec"]
            spec["rabbitmq"]["credentialsSecretRef"]["name"] = f"{name}-trattoria-rabbitmq"
            spec["gateway"]["adminTokenSecretRef"]["name"] = f"{name}-trattoria-gateway"
            spec["gateway"]["sessionSecretRef"]["name"] = f"{name}-trattoria-gateway"
            spec["stripe"]["secretRef"]["name"] = f"{name}-trattoria-stripe"
    return documents


def _leaks(
    kube: ControlPlane, namespace: str, operator: OperatorProcess, values: list[str]
) -> list[str]:
    """Where any of `values` shows: status, annotations, Events, the operator's log."""
    restaurants = cluster.get_json(kube, "-n", namespace, "restaurants")["items"]
    readable: dict[str, Any] = {
        f"restaurant {r['metadata']['name']}": {
            "status": r.get("status"),
            "annotations": {
                k: v
                for k, v in r["metadata"].get("annotations", {}).items()
                if k not in SPEC_COPIES
            },
        }
        for r in restaurants
    }
    events = cluster.get_json(kube, "-n", namespace, "events")["items"]
    readable["events"] = [(e["reason"], e["message"]) for e in events]
    texts = {where: json.dumps(what) for where, what in readable.items()}
    texts["operator log"] = operator.log_path.read_text(errors="replace")
    forms = {form for value in values for form in (value, quote(value, safe=""))}
    return sorted(
        f"{where}: ...{text[max(0, text.index(form) - 120) : text.index(form)]}"
        for where, text in texts.items()
        for form in forms
        if form in text
    )


def _degraded(
    kube: ControlPlane, namespace: str, name: str, reason: str, operator: OperatorProcess
) -> dict[str, Any]:
    def found() -> Any:
        status = (cluster.restaurant(kube, namespace, name) or {}).get("status", {})
        degraded = [c for c in status.get("conditions", []) if c["type"] == "Degraded"]
        return status if degraded and degraded[0]["reason"] == reason else None

    what = f"{name} Degraded with {reason}"
    status: dict[str, Any] = cluster.wait_until(
        found, what, 60, cluster.explain(kube, namespace, operator)
    )
    return status


def test_status_events_and_logs_never_carry_credentials(
    kube: ControlPlane,
    namespace: str,
    oms_operator: OperatorProcess,
    rabbitmq: servers.RabbitMQ,
    consul: servers.Consul,
    login: tuple[str, str],
) -> None:
    user, password = login
    management = rabbitmq.management_url.split("://", 1)[1]
    secrets = {
        "user": user,
        "other": f"tok-{uuid.uuid4().hex}",  # admin token, session secret, Stripe keys
        **dict.fromkeys(("good", "userinfo", "elsewhere", "amqpdown"), password),
        "wrongpw": f"wrong-{uuid.uuid4().hex}",
    }
    values = sorted({v for k, v in secrets.items() if k != "user"})
    paths = {  # name -> (change to its spec's rabbitmq, the reason it degrades with)
        "good": ({}, None),
        "wrongpw": ({}, "BrokerUnavailable"),
        "userinfo": (
            {"managementUrl": f"http://{user}:{quote(password, safe='')}@{management}"},
            "ManagementUrlRefused",
        ),
        "elsewhere": (
            {"managementUrl": "http://rabbitmq.oms-infra.svc:15672"},
            "ManagementUrlRefused",
        ),
        "amqpdown": ({"url": f"amqp://127.0.0.1:{free_port()}"}, "BrokerUnavailable"),
        "nosecret": ({"credentialsSecretRef": {"name": "absent"}}, "CredentialsMissing"),
    }
    for name, (change, reason) in paths.items():
        documents = _documents(name, rabbitmq, consul, secrets | {name: secrets.get(name, "")})
        restaurant = documents[-1]
        restaurant["spec"]["rabbitmq"] |= change
        cluster.apply(kube, namespace, *documents)
        if reason is None:
            cluster.wait_ready(kube, namespace, name, oms_operator)
        else:
            status = _degraded(kube, namespace, name, reason, oms_operator)
            assert status["phase"] == "Degraded"
        assert _leaks(kube, namespace, oms_operator, values) == [], name

    refused = _degraded(kube, namespace, "userinfo", "ManagementUrlRefused", oms_operator)
    assert "carries a login of its own" in refused["lastError"]["message"]
    elsewhere = _degraded(kube, namespace, "elsewhere", "ManagementUrlRefused", oms_operator)
    assert (
        "rabbitmq.oms-infra.svc is neither a Service of namespace"
        in (elsewhere["lastError"]["message"])
    )

    # Deleting each runs the finalizer's paths too (the wrong password fixed first, or its
    # clean-up would retry for minutes).
    fixed = json.dumps({"stringData": {"password": password}})
    kube.kubectl("-n", namespace, "patch", "secret", "wrongpw-trattoria-rabbitmq", "-p", fixed)
    for name in paths:
        kube.kubectl("-n", namespace, "delete", "restaurant", name, "--timeout=90s")
    assert _leaks(kube, namespace, oms_operator, values) == []
    events = cluster.get_json(kube, "-n", namespace, "events")["items"]
    reasons = {(e["involvedObject"]["name"], e["reason"]) for e in events}
    assert {("good", "VhostRemoved"), ("amqpdown", "VhostRemoved")} <= reasons
    assert ("userinfo", "ManagementUrlRefused") in reasons
