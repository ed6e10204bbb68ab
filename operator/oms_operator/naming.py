"""Names the operator gives things: the API, children, labels, vhosts and databases.

One place, so the builders, the handlers and the tests agree on every name.
"""

from __future__ import annotations

GROUP = "oms.dev"
VERSION = "v1alpha1"
PLURAL = "restaurants"
KIND = "Restaurant"
API_VERSION = f"{GROUP}/{VERSION}"

# Server-side apply owner of every field the operator sets on its children.
FIELD_MANAGER = "oms-operator"
MANAGED_BY = "oms-operator"
PART_OF = "oms"

# The platform's gRPC services (port 50051) and its HTTP gateway (port 8080); every process
# also serves /metrics, /healthz and /readyz on its ops port (OPS_PORT, oms.platform.ops_http).
GRPC_SERVICES = ("menu", "stock", "order", "payment", "kitchen")
GATEWAY = "gateway"
SERVICES = (*GRPC_SERVICES, GATEWAY)
GRPC_PORT = 50051
GATEWAY_PORT = 8080
OPS_PORT = 9464

# Who calls whom over gRPC (the services' `platform.service(...)` calls): the NetworkPolicy
# edges inside a restaurant. The kitchen takes its work from RabbitMQ; nothing calls it.
CALLS = {
    GATEWAY: ("menu", "stock", "order", "payment"),
    "order": ("menu", "stock", "payment"),
    "payment": ("order",),
}
# The services that open a database (the gateway has none).
DATABASE_SERVICES = ("menu", "stock", "order", "payment", "kitchen")

# Where menu and stock find the seed file (the inline menu's ConfigMap, or the referenced one).
SEED_DIR = "/etc/oms/menu"
SEED_FILE = "menu.json"
# Stopping: a preStop pause before SIGTERM, then what the process may take, then a margin
# (terminationGracePeriodSeconds is their sum). Consumers other than the kitchen's give
# in-flight messages CONSUMER_GRACE_SECONDS (oms.platform.bootstrap, Platform.consume).
PRE_STOP_SECONDS = 5
CONSUMER_GRACE_SECONDS = 30
SHUTDOWN_MARGIN_SECONDS = 15

# Where the gRPC TLS Secret is mounted, in cert-manager's layout.
TLS_DIR = "/etc/oms/tls"
TLS_FILES = {"cert": "tls.crt", "key": "tls.key", "ca": "ca.crt"}


def child_name(restaurant: str, service: str) -> str:
    """The Deployment and Service of `service`, e.g. `trattoria-menu`."""
    return f"{restaurant}-{service}"


def menu_config_map(restaurant: str) -> str:
    return f"{restaurant}-menu"


def selector_labels(restaurant: str, service: str) -> dict[str, str]:
    """The immutable subset: a Deployment's selector and its Service's."""
    return {
        "app.kubernetes.io/name": "oms",
        "app.kubernetes.io/instance": restaurant,
        "app.kubernetes.io/component": service,
    }


def labels(restaurant: str, service: str) -> dict[str, str]:
    return {
        **selector_labels(restaurant, service),
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }


def owned_selector(restaurant: str) -> str:
    """A label selector for every child of one restaurant."""
    return f"app.kubernetes.io/instance={restaurant},app.kubernetes.io/managed-by={MANAGED_BY}"


def default_vhost(namespace: str, restaurant: str) -> str:
    return f"oms-{namespace}-{restaurant}"


def default_database(namespace: str, restaurant: str) -> str:
    # MongoDB (and FerretDB) names allow neither dots nor most punctuation; keep it plain.
    return f"oms_{namespace}_{restaurant}".replace("-", "_")[:63]


def consul_prefix(namespace: str, restaurant: str) -> str:
    """What a restaurant's pods put before their service names when they register."""
    return f"{namespace}-{restaurant}-"


def consul_service(namespace: str, restaurant: str, service: str) -> str:
    """A restaurant's Kubernetes Service in the Consul catalog: `-svc` after the name its
    pods register under, so the operator's entries never answer for the pods'."""
    return f"{consul_prefix(namespace, restaurant)}{service}-svc"


def consul_node(namespace: str, restaurant: str) -> str:
    """The external Consul node holding one restaurant's catalog entries."""
    return f"oms-{namespace}-{restaurant}"
