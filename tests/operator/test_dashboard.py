"""The Grafana dashboard the platform chart ships reads only metrics the services export
(oms.platform.metrics), by labels they carry, and shows every one of them."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from oms.order.domain import TERMINAL, Status
from oms.platform import metrics
from tests.operator import charts

DASHBOARD = charts.CHARTS / "oms" / "dashboards" / "oms.json"
# Labels Prometheus adds from the pod's target (kubernetes_sd), besides the metric's own.
TARGET_LABELS = {"namespace", "pod", "instance", "job"}
NAME = re.compile(r"\boms_[a-z_]+\b")


def _exported() -> dict[str, tuple[set[str], set[str]]]:
    """Each metric's base name -> (sample names it exports, its label names)."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for value in vars(metrics).values():
        if not isinstance(value, MetricWrapperBase):
            continue
        name = value._name
        labels = set(value._labelnames)
        if isinstance(value, Counter):
            found[name] = ({f"{name}_total"}, labels)
        elif isinstance(value, Histogram):
            samples = {f"{name}_{suffix}" for suffix in ("bucket", "sum", "count")}
            found[name] = (samples, labels | {"le"})
        else:
            assert isinstance(value, Gauge), value
            found[name] = ({name}, labels)
    return found


def _expressions() -> list[str]:
    document = json.loads(DASHBOARD.read_text())
    expressions = [t["expr"] for p in document["panels"] for t in p.get("targets", [])]
    for variable in document["templating"]["list"]:
        if variable["type"] == "query":
            expressions.append(variable["definition"])
    return expressions


def _labels_used(expression: str) -> set[str]:
    grouped = {
        label.strip()
        for group in re.findall(r"\bby \(([^)]*)\)", expression)
        for label in group.split(",")
    }
    matched = set(re.findall(r"([a-z_]+)\s*(?:=~|!=|=)\s*\"", expression))
    return grouped | matched


def test_every_metric_the_dashboard_reads_is_exported_with_those_labels() -> None:
    exported = _exported()
    samples = {s: base for base, (names, _) in exported.items() for s in names}
    problems: list[str] = []
    for expression in _expressions():
        used = set(NAME.findall(expression))
        unknown = used - set(samples)
        problems += [f"{name} is not in oms.platform.metrics: {expression}" for name in unknown]
        labels = set().union(*(exported[samples[n]][1] for n in used - unknown)) | TARGET_LABELS
        problems += [
            f"label {label} is on none of {sorted(used)}: {expression}"
            for label in _labels_used(expression) - labels
        ]

    assert problems == []


def test_the_dashboard_shows_every_metric_the_services_export() -> None:
    used = {name for expression in _expressions() for name in NAME.findall(expression)}
    shown = {base for base, (samples, _) in _exported().items() if samples & used}

    assert shown == set(_exported())


def test_every_panel_asks_the_chosen_prometheus() -> None:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    panels = [p for p in document["panels"] if p["type"] != "row"]

    assert panels
    assert {p["datasource"]["uid"] for p in panels} == {"${datasource}"}
    assert len({p["id"] for p in document["panels"]}) == len(document["panels"])


def test_the_chart_ships_it_where_grafanas_sidecar_looks() -> None:
    documents = charts.render("oms", "--set", charts.PRODUCTION)
    (config_map,) = [d for d in documents if d["metadata"]["name"] == "demo-dashboard"]

    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["data"]["oms.json"] == DASHBOARD.read_text()
    off = charts.render("oms", "--set", f"{charts.PRODUCTION},dashboard.enabled=false")
    assert all(d["metadata"]["name"] != "demo-dashboard" for d in off)


def test_the_dashboard_shows_how_many_orders_are_in_each_state_now() -> None:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    (panel,) = [p for p in document["panels"] if p["title"] == "Orders in each state now"]
    (target,) = panel["targets"]
    expression = target["expr"]

    # Entered (by status) minus left (by from), for every state an order can wait in.
    assert "sum by (from)" in expression
    assert 'from!=""' in expression
    waiting = re.search(r'status=~"([a-z_|]+)"', expression)
    assert waiting is not None
    assert set(waiting.group(1).split("|")) == {s.value for s in Status if s not in TERMINAL}
