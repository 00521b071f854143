"""Updates and deletions on the step machine, in the pure world, with crashes (contract 2.4)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from messages.events import (
    DataflowDeleted,
    DataflowFailed,
    DataflowUpdated,
    StepCompleted,
)
from tests.unit.core.machine_sim import Command, World, facts, limits
from worker.core.effects import Call
from worker.core.machine import Machine
from worker.core.steps import Step

FIRST = '{"mappings":[1],"schedule":1}'
SECOND = '{"mappings":[2],"schedule":2}'
DELETABLE = {
    Step.SOURCE_CONNECTION,
    Step.TARGET_SCHEMA,
    Step.TARGET_DATASET,
    Step.TARGET_CONNECTION,
    Step.DATAFLOW,
}


def created(script: Iterator[str] | None = None) -> World:
    """A world whose request was created at revision 1 (content ``FIRST``)."""
    answers = script if script is not None else iter(())

    def answer(call: Call) -> str:
        return next(answers, "ok")

    w = World(Machine(facts(), limits(max_attempts=30)), script=answer)
    w.record = type(w.record)(**{**w.record.__dict__, "request_json": FIRST})
    w.run()
    assert w.record.status == "created"
    return w


def revise(w: World, content: str = SECOND, *, enabled: bool = True) -> str:
    machine = Machine(facts(flow_state=True, enabled=enabled), limits(max_attempts=30))
    return w.send(
        Command(content_hash=content, request_json=content, revision=2, event_id="e-2"), machine
    )


def delete(w: World) -> str:
    machine = Machine(facts(), limits(max_attempts=30))
    return w.send(Command(kind="deletion", event_id="e-d"), machine)


def of(w: World, kind: type) -> list[object]:
    return [event for event in w.events if isinstance(event, kind)]


def test_an_update_makes_a_new_mapping_set_patches_the_flow_and_sets_its_state() -> None:
    w = created()
    flow_id = w.made[Step.DATAFLOW]
    assert revise(w, enabled=False) == "acquired"
    w.run()
    (updated,) = of(w, DataflowUpdated)
    assert updated.flow_id == flow_id  # type: ignore[attr-defined]
    assert updated.changed == ["mappings", "schedule"]  # type: ignore[attr-defined]
    assert updated.enabled is False  # type: ignore[attr-defined]
    assert Counter(w.creates)[Step.MAPPING_SET] == 2
    assert Counter(w.creates)[Step.DATAFLOW] == 1
    assert w.updates == [Step.DATAFLOW, Step.FLOW_STATE]
    assert w.record.status == "updated"
    assert (w.record.applied_revision, w.record.applied_json) == (2, SECOND)
    steps = [e for e in of(w, StepCompleted) if e.revision == 2]  # type: ignore[attr-defined]
    assert [(e.step, e.outcome) for e in steps] == [  # type: ignore[attr-defined]
        ("mapping_set", "created"),
        ("dataflow", "updated"),
        ("flow_state", "disabled"),
    ]


def test_an_update_without_new_mappings_makes_no_mapping_set() -> None:
    w = created()
    revise(w, '{"mappings":[1],"schedule":2}')
    w.run()
    (updated,) = of(w, DataflowUpdated)
    assert updated.changed == ["schedule"]  # type: ignore[attr-defined]
    assert Counter(w.creates)[Step.MAPPING_SET] == 1


def test_a_deletion_deletes_newest_first_and_keeps_what_is_in_use() -> None:
    answers = {Step.TARGET_SCHEMA: "in_use"}
    w = created()
    w.script = lambda call: answers.get(call.step, "ok") if call.mode == "delete" else "ok"
    made = dict(w.made)
    assert delete(w) == "acquired"
    w.run()
    (deleted,) = of(w, DataflowDeleted)
    assert w.deleted == [
        Step.DATAFLOW,
        Step.TARGET_CONNECTION,
        Step.TARGET_DATASET,
        Step.SOURCE_CONNECTION,
    ]
    assert deleted.model_dump(mode="json")["kept"] == {  # type: ignore[attr-defined]
        "target_schema": {"id": made[Step.TARGET_SCHEMA], "reason": "in_use"},
        "mapping_set": {"id": made[Step.MAPPING_SET], "reason": "not_deletable"},
    }
    assert set(deleted.deleted) == {s.value for s in w.deleted}  # type: ignore[attr-defined]
    assert w.record.status == "deleted"


def test_a_deletion_retries_a_failed_call_and_goes_on_from_where_it_stopped() -> None:
    w = created()
    calls = Counter[Step]()

    def answer(call: Call) -> str:
        calls[call.step] += 1
        return "retryable" if call.step is Step.TARGET_DATASET and calls[call.step] == 1 else "ok"

    w.script = answer
    delete(w)
    deliveries = w.run()
    assert deliveries == 2
    assert Counter(w.deleted) == Counter(DELETABLE)
    (deleted,) = of(w, DataflowDeleted)
    assert deleted.attempts == 6  # type: ignore[attr-defined]


ANSWERS = st.sampled_from(["ok", "ok", "ok", "retryable", "outcome_unknown", "applied_then_lost"])


@settings(max_examples=200, deadline=None)
@given(
    answers=st.lists(ANSWERS, min_size=30, max_size=30),
    crashes=st.lists(st.one_of(st.none(), st.integers(1, 12)), min_size=8, max_size=8),
    deletion=st.booleans(),
)
def test_an_update_or_a_deletion_ends_once_and_never_repeats_a_remote_change(
    answers: list[str], crashes: list[int | None], deletion: bool
) -> None:
    w = created()
    script = iter(answers)
    w.script = lambda call: next(script, "ok")
    if deletion:
        delete(w)
    else:
        revise(w)
    for crash in crashes:
        w.deliver(crash_after=crash)
        if w.concluded:
            break
    while not w.concluded:
        w.deliver()
    assert len(w.concluded) == 1
    terminal = of(w, DataflowUpdated) + of(w, DataflowDeleted) + of(w, DataflowFailed)
    assert len(terminal) == 1
    creates = Counter(w.creates)
    assert creates[Step.MAPPING_SET] <= 2  # the creation's, and at most one for the update
    assert all(n == 1 for step, n in creates.items() if step is not Step.MAPPING_SET)
    assert all(n == 1 for n in Counter(w.deleted).values())
    if deletion and isinstance(terminal[0], DataflowDeleted):
        assert set(w.made) <= {Step.FLOW_SPEC, Step.MAPPING_SET}
