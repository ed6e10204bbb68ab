"""Where the operator may send a restaurant's broker credentials (pure: no cluster)."""

from __future__ import annotations

import pytest

from oms_operator import broker_address

ALLOWED = ("rabbitmq.oms-infra.svc", "MQ.Example.com")


def _check(url: str, namespace: str = "food") -> None:
    broker_address.check("spec.rabbitmq.managementUrl", url, namespace, ALLOWED, "cluster.local")


@pytest.mark.parametrize(
    "url",
    [
        "http://rabbitmq.food.svc:15672",
        "https://rabbitmq.food.svc.cluster.local:15671/",
        "http://rabbitmq.oms-infra.svc:15672",  # on the allowlist
        "https://mq.example.com",  # hosts compare without case
        "amqp://rabbitmq.food.svc:5672",
    ],
)
def test_a_service_of_the_namespace_or_an_allowed_host_may_receive_them(url: str) -> None:
    _check(url)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://rabbitmq.other.svc:15672", "host rabbitmq.other.svc is neither a Service of"),
        ("http://rabbitmq.food:15672", "host rabbitmq.food is neither"),  # `food` may be a TLD
        ("http://rabbitmq.food.svc.evil.com", "host rabbitmq.food.svc.evil.com is neither"),
        ("http://rabbitmq.food.svc.cluster.local.evil", "is neither"),
        ("http://169.254.169.254/latest", "host 169.254.169.254 is neither"),
        ("http://food.svc:15672", "host food.svc is neither"),
    ],
)
def test_any_other_host_is_refused_naming_the_rule(url: str, reason: str) -> None:
    with pytest.raises(broker_address.Refused, match=r"spec\.rabbitmq\.managementUrl") as refused:
        _check(url)

    assert reason in str(refused.value)
    assert "no credentials were sent" in str(refused.value)


def test_a_url_with_a_login_of_its_own_is_refused_without_repeating_it() -> None:
    with pytest.raises(broker_address.Refused) as refused:
        _check("http://admin:hunter2@rabbitmq.food.svc:15672")

    message = str(refused.value)
    assert "carries a login of its own" in message
    assert "hunter2" not in message
    assert "admin" not in message


def test_redact_hides_a_secret_and_its_url_quoted_form() -> None:
    text = "amqp://oms:p%40ss%2Fword@mq:5672/ refused p@ss/word"

    assert broker_address.redact(text, "p@ss/word", "") == "amqp://oms:***@mq:5672/ refused ***"
