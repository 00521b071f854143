"""The chaos run's plan and judgement: pure functions over resources, events and kills."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.chaos.plan import ChaosOptions, actions, batches
from tests.chaos.verdict import Kill, judge, moves_after, note_progress, tag_of

T0 = 1_800_000_000.0


def created(rid: str, event_id: str = "e1", flow: str = "f1") -> dict[str, Any]:
    """A ``DataflowCreated`` of ``rid``."""
    data = {"request_id": rid, "flow_id": flow}
    return {"id": event_id, "type": "DataflowCreated", "time": "2027-01-15T08:00:00Z", "data": data}


def resources(*rids: str, extra: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, Any]:
    """One resource of every kind per request (flow ids ``f1``, ``f2``, ...)."""
    kinds = ("sourceConnections", "targetConnections", "schemas", "dataSets")
    found: dict[str, list[dict[str, Any]]] = {
        kind: [{"id": f"{kind}-{rid}", "name": f"crm ({kind}) [{rid}]"} for rid in rids]
        for kind in kinds
    }
    found["flows"] = [{"id": f"f{n}", "name": f"crm (flow) [{r}]"} for n, r in enumerate(rids, 1)]
    found["mappingSets"] = [{"id": f"m-{rid}", "name": None} for rid in rids]
    for kind, items in (extra or {}).items():
        found[kind] = found[kind] + items
    return found


def test_one_resource_of_each_kind_and_one_terminal_event_per_request_passes() -> None:
    verdict = judge(
        ["a", "b"],
        resources("a", "b"),
        {"a": [created("a")], "b": [created("b", "e2", "f2")]},
        [],
        recovery_limit_s=20,
    )
    assert verdict.ok


def test_a_second_resource_of_a_kind_is_a_duplicate_and_a_spare_mapping_set_too() -> None:
    extra: dict[str, list[dict[str, Any]]] = {
        "dataSets": [{"id": "again", "name": "crm (dataset) [a]"}],
        "mappingSets": [{"id": "spare", "name": None}],
    }
    verdict = judge(
        ["a"], resources("a", extra=extra), {"a": [created("a")]}, [], recovery_limit_s=20
    )
    assert verdict.duplicates == ("a: 2 dataSets", "1 mapping sets more than requests")


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([], "0 terminal events"),
        ([created("a"), created("a", "e2")], "2 terminal events"),
        (
            [{**created("a"), "type": "DataflowFailed", "data": {"error": {"kind": "rejected"}}}],
            "ended in DataflowFailed (rejected)",
        ),
        ([created("a", flow="gone")], "created without its flow"),
    ],
)
def test_a_request_without_exactly_one_created_event_and_its_resources_is_lost(
    events: list[dict[str, Any]], problem: str
) -> None:
    verdict = judge(["a"], resources("a"), {"a": events}, [], recovery_limit_s=20)
    assert verdict.lost == (f"a: {problem}",)


def test_the_same_terminal_event_published_again_is_not_a_second_one() -> None:
    verdict = judge(
        ["a"], resources("a"), {"a": [created("a"), created("a")]}, [], recovery_limit_s=20
    )
    assert verdict.lost == ()


def test_a_kill_recovers_when_its_replacement_is_ready_and_each_held_request_moved() -> None:
    kill = Kill("kill", T0, 0, ("a", "b"), ready_at=T0 + 3)
    step = {"type": "StepCompleted", "time": "2027-01-15T08:00:00Z", "data": {"request_id": "a"}}
    note_progress([kill], {**step, "time": _iso(T0 + 12)}, T0 + 12)
    assert kill.recovery_s() is None  # b has not moved yet
    note_progress([kill], {**created("b"), "time": _iso(T0 - 5)}, T0 + 14)  # republished: old time
    assert kill.recovery_s() == 14
    verdict = judge(["a"], resources("a"), {"a": [created("a")]}, [kill], recovery_limit_s=10)
    assert verdict.slow_recoveries == (0,)


def test_a_held_request_the_dead_worker_no_longer_holds_has_recovered_before_it_moves() -> None:
    kill = Kill("kill", T0, 0, ("a", "b"), ready_at=T0 + 3)
    kill.released["a"] = T0 + 16
    assert kill.recovery_s() is None  # b is still the dead worker's, and not moving
    note_progress([kill], {**created("b"), "time": _iso(T0 + 15)}, T0 + 15)
    assert kill.recovery_s() == 16
    assert kill.moving_s() is None  # a was released, but has published nothing yet
    note_progress([kill], {**created("a"), "time": _iso(T0 + 30)}, T0 + 30)
    assert kill.moving_s() == 30
    assert kill.recovery_s() == 16


def test_a_step_made_before_the_kill_but_arriving_after_it_is_no_progress() -> None:
    step = {"type": "StepCompleted", "time": _iso(T0 - 0.1), "data": {"request_id": "a"}}
    assert not moves_after(step, T0 + 0.05, T0)
    assert moves_after({**step, "time": _iso(T0 + 1)}, T0 + 1, T0)


def test_a_tag_is_the_request_id_in_brackets_at_the_end_of_a_name_or_title() -> None:
    assert tag_of({"name": "crm x (flow) [crm-7]"}) == "crm-7"
    assert tag_of({"title": "crm x (schema) [crm-7]"}) == "crm-7"
    assert tag_of({"name": None}) is None


@pytest.mark.parametrize(
    ("requests", "actions_", "expected"),
    [(300, 9, [150] + [17] * 6 + [16] * 3), (30, 3, [15, 5, 5, 5]), (10, 0, [10])],
)
def test_requests_are_published_half_up_front_and_the_rest_before_each_action(
    requests: int, actions_: int, expected: list[int]
) -> None:
    assert batches(requests, actions_) == expected
    assert sum(expected) == requests


def test_the_plan_has_each_kind_of_disruption_as_many_times_as_asked() -> None:
    planned = actions(ChaosOptions(kills=5, window_kills=2, cuts=2, seed=9))
    kinds = [action.kind for action in planned]
    assert (kinds.count("kill"), kinds.count("window_kill"), kinds.count("cut")) == (3, 2, 2)
    assert all(action.step for action in planned if action.kind == "window_kill")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")
