"""Pure: a Restaurant's status from its Deployments and the last reconciliation's outcome.

`phase` sums the three conditions up: Degraded when the last reconciliation failed or a
Deployment cannot roll out, Ready when every service is available at the observed
generation, Progressing in between, and Pending before anything exists.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Body = Mapping[str, Any]


@dataclass(frozen=True)
class ServiceState:
    service: str
    desired: int
    ready: bool
    available: int
    problem: str | None = None


def _condition(deployment: Body, kind: str) -> Body:
    for condition in deployment.get("status", {}).get("conditions", []) or []:
        if condition.get("type") == kind:
            return dict(condition)
    return {}


def service_state(service: str, desired: int, deployment: Body | None) -> ServiceState:
    """Whether one service's Deployment runs `desired` up-to-date, available pods."""
    if deployment is None:
        return ServiceState(service, desired, ready=False, available=0, problem=None)
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    generation = deployment.get("metadata", {}).get("generation", 0)
    available = status.get("availableReplicas", 0) or 0
    ready = (
        spec.get("replicas") == desired
        and (status.get("observedGeneration") or 0) >= generation
        and (status.get("updatedReplicas") or 0) >= desired
        and available >= desired
        and (status.get("replicas") or 0) == desired
    )
    problem = None
    progressing = _condition(deployment, "Progressing")
    failure = _condition(deployment, "ReplicaFailure")
    if progressing.get("reason") == "ProgressDeadlineExceeded":
        problem = f"{service}: {progressing.get('message', 'rollout stalled')}"
    elif failure.get("status") == "True":
        problem = f"{service}: {failure.get('message', 'cannot create pods')}"
    return ServiceState(service, desired, ready, available, problem)


def _merge_time(new: dict[str, Any], previous: Sequence[Body], now: str) -> dict[str, Any]:
    # lastTransitionTime moves only when the condition's status changes.
    for old in previous:
        if old.get("type") == new["type"] and old.get("status") == new["status"]:
            return {**new, "lastTransitionTime": old.get("lastTransitionTime", now)}
    return {**new, "lastTransitionTime": now}


def assess(
    *,
    generation: int,
    observed_generation: int | None,
    states: Sequence[ServiceState],
    kitchen_ready: int,
    error: Body | None,
    previous_conditions: Sequence[Body],
    now: str,
) -> dict[str, Any]:
    """The status to write: phase, readyServices, kitchenWorkers and the conditions."""
    ready = [s for s in states if s.ready]
    waiting = [s.service for s in states if not s.ready]
    problems = [s.problem for s in states if s.problem]
    observed = observed_generation is not None and observed_generation >= generation

    if error:
        degraded = ("True", str(error.get("reason", "ReconcileFailed")), str(error["message"]))
    elif problems:
        degraded = ("True", "RolloutFailed", "; ".join(problems))
    else:
        degraded = ("False", "AsExpected", "No problem found")

    all_ready = observed and not waiting and degraded[0] == "False"
    if all_ready:
        ready_c = ("True", "AllServicesAvailable", f"{len(ready)}/{len(states)} services available")
        progressing = ("False", "Complete", f"Generation {generation} is rolled out")
    elif not observed:
        ready_c = ("False", "Reconciling", f"Generation {generation} is not reconciled yet")
        progressing = ("True", "Reconciling", f"Applying generation {generation}")
    else:
        ready_c = ("False", "ServicesUnavailable", "Waiting for " + ", ".join(waiting or ["-"]))
        progressing = (
            ("True", "RollingOut", "Waiting for " + ", ".join(waiting))
            if waiting
            else ("False", "Complete", f"Generation {generation} is rolled out")
        )

    if degraded[0] == "True":
        phase = "Degraded"
    elif all_ready:
        phase = "Ready"
    elif observed_generation is None and not any(s.available for s in states):
        phase = "Pending"
    else:
        phase = "Progressing"

    conditions = [
        _merge_time(
            {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "observedGeneration": generation,
            },
            previous_conditions,
            now,
        )
        for kind, (status, reason, message) in (
            ("Ready", ready_c),
            ("Progressing", progressing),
            ("Degraded", degraded),
        )
    ]
    return {
        "phase": phase,
        "readyServices": f"{len(ready)}/{len(states)}",
        "kitchenWorkers": kitchen_ready,
        "conditions": conditions,
    }
