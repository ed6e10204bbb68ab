"""Prometheus metrics every OMS process exports (prometheus-client, the default registry).

Names follow Prometheus conventions (`_total` counters, `_seconds` histograms). The ops HTTP
server (`oms.platform.ops_http`) serves them at `/metrics`; `charts/oms/dashboards/` has a
Grafana dashboard built on them.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram
from pymongo import monitoring

RPC_SERVER_SECONDS = Histogram(
    "oms_rpc_server_seconds", "gRPC calls served, by method and status code", ["method", "code"]
)
HTTP_SECONDS = Histogram(
    "oms_http_request_seconds",
    "HTTP requests served by the gateway, by route template and status",
    ["method", "route", "status"],
)
EVENTS_PUBLISHED = Counter(
    "oms_events_published_total", "Events the broker confirmed, by type", ["type"]
)
EVENTS_CONSUMED = Counter(
    "oms_events_consumed_total",
    "Events taken from a queue, by outcome (handled, retried, parked, handed_back)",
    ["queue", "type", "outcome"],
)
OUTBOX_BACKLOG = Gauge(
    "oms_outbox_backlog", "Events stored and not yet confirmed by the broker", ["collection"]
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "oms_outbox_oldest_seconds",
    "Age of the oldest event this process is still trying to publish",
    ["collection"],
)
MONGO_COMMANDS = Counter(
    "oms_mongo_commands_total",
    "Commands sent to MongoDB, by name and collection (empty for commands on none)",
    ["command", "collection"],
)
# By the status entered and the one left (`from`, empty at placement), so that how many
# orders are in a status now is computable from counters alone, summed over every Order
# process: entered (by `status`) minus left (by `from`). No process could count it alone
# (another may have placed the order), and a gauge read from the database would scan it.
ORDER_TRANSITIONS = Counter(
    "oms_order_transitions_total",
    "Orders entering a status from another (from is empty at placement): Order's decisions",
    ["status", "from"],
)
ORDERS_OVERDUE = Counter(
    "oms_orders_overdue_total", "Orders past a state's deadline, by that state", ["status"]
)
KITCHEN_QUEUE_DEPTH = Gauge(
    "oms_kitchen_queue_depth", "Confirmed orders waiting for a cook (the kitchen's queue)"
)
KITCHEN_BUSY_COOKS = Gauge("oms_kitchen_busy_cooks", "Cooks of this process cooking now")


class MongoCommands(monitoring.CommandListener):
    """PyMongo command monitoring into `oms_mongo_commands_total`."""

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        # CRUD commands name their collection as the command's own value (`{"find": "orders"}`).
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else ""
        MONGO_COMMANDS.labels(event.command_name, collection).inc()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass
