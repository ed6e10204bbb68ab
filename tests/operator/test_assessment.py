"""Status from Deployments: phase, ready services, kitchen workers and conditions."""

from __future__ import annotations

from typing import Any

from oms_operator import assessment

NOW = "2026-01-01T00:00:00Z"


def _deployment(desired: int, available: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"generation": 2},
        "spec": {"replicas": desired},
        "status": {
            "observedGeneration": 2,
            "replicas": desired,
            "updatedReplicas": available,
            "availableReplicas": available,
            "readyReplicas": available,
            **status,
        },
    }


def _conditions(status: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status["conditions"]}


def _assess(states: list[assessment.ServiceState], **kwargs: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "generation": 3,
        "observed_generation": 3,
        "states": states,
        "kitchen_ready": 2,
        "error": None,
        "previous_conditions": [],
        "now": NOW,
    } | kwargs
    return assessment.assess(**arguments)


def test_a_service_is_ready_when_every_desired_pod_is_up_to_date_and_available() -> None:
    assert assessment.service_state("menu", 2, _deployment(2, 2)).ready
    assert not assessment.service_state("menu", 2, _deployment(2, 1)).ready
    assert not assessment.service_state("menu", 3, _deployment(2, 2)).ready  # not applied yet
    assert not assessment.service_state("menu", 1, None).ready
    assert assessment.service_state("kitchen", 0, _deployment(0, 0)).ready  # kitchen closed


def test_all_available_at_the_observed_generation_is_ready() -> None:
    states = [assessment.service_state(s, 1, _deployment(1, 1)) for s in ("menu", "order")]

    status = _assess(states)

    assert status["phase"] == "Ready"
    assert status["readyServices"] == "2/2"
    assert status["kitchenWorkers"] == 2
    assert _conditions(status) == {
        "Ready": ("True", "AllServicesAvailable"),
        "Progressing": ("False", "Complete"),
        "Degraded": ("False", "AsExpected"),
    }


def test_waiting_for_pods_is_progressing() -> None:
    states = [
        assessment.service_state("menu", 1, _deployment(1, 1)),
        assessment.service_state("order", 2, _deployment(2, 1)),
    ]

    status = _assess(states)

    assert status["phase"] == "Progressing"
    assert status["readyServices"] == "1/2"
    assert _conditions(status)["Progressing"] == ("True", "RollingOut")
    assert "order" in next(c for c in status["conditions"] if c["type"] == "Ready")["message"]


def test_a_newer_generation_is_not_ready_until_reconciled() -> None:
    states = [assessment.service_state("menu", 1, _deployment(1, 1))]

    status = _assess(states, generation=4, observed_generation=3)

    assert status["phase"] == "Progressing"
    assert _conditions(status)["Ready"] == ("False", "Reconciling")


def test_nothing_yet_is_pending() -> None:
    status = _assess([assessment.service_state("menu", 1, None)], observed_generation=None)

    assert status["phase"] == "Pending"


def test_a_failed_step_or_a_stalled_rollout_is_degraded() -> None:
    ok = [assessment.service_state("menu", 1, _deployment(1, 1))]
    failed = _assess(ok, error={"reason": "BrokerUnavailable", "message": "refused"})
    stalled = assessment.service_state(
        "order",
        1,
        _deployment(
            1,
            0,
            conditions=[
                {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
            ],
        ),
    )

    assert failed["phase"] == "Degraded"
    assert _conditions(failed)["Degraded"] == ("True", "BrokerUnavailable")
    assert _conditions(failed)["Ready"][0] == "False"
    assert _assess([*ok, stalled])["phase"] == "Degraded"


def test_transition_time_moves_only_when_a_condition_changes() -> None:
    states = [assessment.service_state("menu", 1, _deployment(1, 1))]
    first = _assess(states, now="2026-01-01T00:00:00Z")

    again = _assess(states, previous_conditions=first["conditions"], now="2026-01-02T00:00:00Z")
    broken = _assess(
        states,
        previous_conditions=first["conditions"],
        error={"reason": "X", "message": "y"},
        now="2026-01-03T00:00:00Z",
    )

    times = {c["type"]: c["lastTransitionTime"] for c in again["conditions"]}
    assert set(times.values()) == {"2026-01-01T00:00:00Z"}
    broken_times = {c["type"]: c["lastTransitionTime"] for c in broken["conditions"]}
    assert broken_times["Degraded"] == "2026-01-03T00:00:00Z"
