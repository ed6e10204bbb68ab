"""Where the operator may send a restaurant's broker credentials, and keeping them out of
what it writes.

The operator reads the broker's login from the Restaurant's Secret and uses it against the
Restaurant's `rabbitmq.managementUrl` (HTTP) and `rabbitmq.url` (AMQP). Whoever may write a
Restaurant but not read that Secret could otherwise name their own server and receive the
login. So each address must name a Service of the Restaurant's own namespace
(`<service>.<namespace>.svc`, optionally followed by the cluster domain) or a host on the
operator's allowlist (`OMS_OPERATOR_BROKER_HOSTS`), and must not carry a login of its own.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote, urlsplit

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
HIDDEN = "***"


class Refused(ValueError):
    """The address may not receive credentials; the message never repeats a login."""


def in_namespace(host: str, namespace: str, cluster_domain: str) -> bool:
    """Whether `host` is `<service>.<namespace>.svc[.<cluster domain>]`."""
    labels = host.split(".")
    suffixes = (["svc"], ["svc", *cluster_domain.split(".")])
    return (
        len(labels) >= 3
        and DNS_LABEL.match(labels[0]) is not None
        and labels[1] == namespace
        and labels[2:] in suffixes
    )


def check(
    field: str, url: str, namespace: str, allowed_hosts: Collection[str], cluster_domain: str
) -> None:
    """Raise `Refused` unless `url` may receive the namespace's broker credentials."""
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise Refused(
            f"{field} carries a login of its own (user info before '@'); the operator's "
            "comes from credentialsSecretRef only, so it sends none there"
        )
    host = (parts.hostname or "").lower().rstrip(".")
    if host in {h.lower() for h in allowed_hosts}:
        return
    if in_namespace(host, namespace, cluster_domain):
        return
    raise Refused(
        f"{field} host {host or '(none)'} is neither a Service of namespace {namespace} "
        f"(<service>.{namespace}.svc) nor on the operator's allowlist "
        "(OMS_OPERATOR_BROKER_HOSTS); no credentials were sent"
    )


def redact(text: str, *secrets: str) -> str:
    """`text` with every secret (and its URL-quoted form) replaced by ***."""
    for value in secrets:
        if value:
            text = text.replace(value, HIDDEN).replace(quote(value, safe=""), HIDDEN)
    return text
