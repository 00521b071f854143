"""The step machine, driven through whole requests in a pure world (no I/O)."""

from __future__ import annotations

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from messages.events import DataflowCreated, DataflowFailed, StepCompleted
from tests.unit.core.machine_sim import ALL_STEPS, World, facts, limits
from worker.core.changes import StartSteps, replace
from worker.core.effects import (
    Begin,
    Call,
    CancelCalls,
    Done,
    Failed,
    Failure,
    Interrupted,
    Succeeded,
    Write,
)
from worker.core.machine import Machine
from worker.core.steps import Step


def world(script: dict[tuple[Step, int], str] | None = None, **kwargs: object) -> World:
    """A world whose Platform answers ``script[(step, n)]`` to the n-th call of a step."""
    answers = dict(script or {})
    seen: Counter[Step] = Counter()

    def answer(call: Call) -> str:
        seen[call.step] += 1
        return answers.get((call.step, seen[call.step]), "ok")

    machine = Machine(facts(**kwargs), limits())  # type: ignore[arg-type]
    return World(machine, script=answer)


def names(events: list[object], kind: type) -> list[object]:
    return [e for e in events if isinstance(e, kind)]


def test_a_request_runs_every_step_once_and_ends_in_dataflow_created() -> None:
    w = world()
    done = w.deliver()
    assert done is not None
    assert done.finished == "created"
    assert done.settle.action == "ack"
    assert sorted(w.creates) == sorted(s for s in ALL_STEPS if s is not Step.FLOW_SPEC)
    completed = names(w.events, StepCompleted)
    assert len(completed) == 7
    created = names(w.events, DataflowCreated)
    assert len(created) == 1
    assert w.record.status == "created"
    assert w.record.attempts == 7


def test_independent_steps_start_side_by_side_once_their_inputs_exist() -> None:
    machine = Machine(facts(), limits())
    w = World(machine)
    state, effects = machine.begin(w.record, Begin(w.now))
    assert [c.step for c in effects if isinstance(c, Call)] == [Step.FLOW_SPEC]
    spec = Succeeded(Step.FLOW_SPEC, "spec-1", "reused", 0.1, w.now)
    state, effects = machine.observe(state, spec)
    calls = [c.step for c in effects if isinstance(c, Call)]
    assert calls == [Step.SOURCE_CONNECTION, Step.TARGET_SCHEMA]
    schema = Succeeded(Step.TARGET_SCHEMA, "schema-1", "created", 0.1, w.now)
    state, effects = machine.observe(state, schema)
    calls = [c.step for c in effects if isinstance(c, Call)]
    assert calls == [Step.TARGET_DATASET, Step.MAPPING_SET]
    assert state.running == {Step.SOURCE_CONNECTION, Step.TARGET_DATASET, Step.MAPPING_SET}


def test_every_intent_is_durable_before_the_first_create_and_completions_hold_nothing_up() -> None:
    machine = Machine(facts(), limits())
    w = World(machine)
    state, effects = machine.begin(w.record, Begin(w.now))
    first = effects[0]
    assert isinstance(first, Write)
    assert not first.pipelined
    (intents,) = first.changes
    assert isinstance(intents, StartSteps)
    assert {step for step, _ in intents.steps} == {
        s.value for s in ALL_STEPS if s is not Step.FLOW_SPEC
    }
    spec = Succeeded(Step.FLOW_SPEC, "spec-1", "reused", 0.1, w.now)
    state, effects = machine.observe(state, spec)
    write, _emit, *calls = effects
    assert isinstance(write, Write)
    assert write.pipelined  # the next creates need not wait for the completion to be durable
    assert [(c.step, c.mode) for c in calls] == [  # type: ignore[union-attr]
        (Step.SOURCE_CONNECTION, "create"),
        (Step.TARGET_SCHEMA, "create"),
    ]


def test_a_retryable_error_schedules_a_delayed_copy_and_the_copy_finishes_the_request() -> None:
    w = world({(Step.TARGET_DATASET, 1): "retryable"})
    first = w.deliver()
    assert first is not None
    assert first.settle.action == "delay"
    assert first.retried is Step.TARGET_DATASET
    assert w.record.status == "waiting_retry"
    assert w.record.last_error is not None
    assert w.record.last_error["kind"] == "retryable"
    second = w.deliver()
    assert second is not None
    assert second.finished == "created"
    assert w.creates.count(Step.TARGET_DATASET) == 1


def test_a_copy_that_arrives_before_its_time_is_delayed_again_without_running() -> None:
    w = world({(Step.TARGET_SCHEMA, 1): "retryable"})
    w.deliver()
    due = w.record.next_retry_at
    assert due is not None
    w.now = due - 5  # the copy came early
    creates = len(w.creates)
    early = w.deliver()
    assert early is not None
    assert early.settle.action == "delay"
    assert early.settle.headers["x-dataflow-copy"] == "early"
    assert 4.5 <= early.settle.seconds <= 5.5
    assert len(w.creates) == creates


def test_a_rejection_fails_at_once_and_parks_the_message_with_the_reason() -> None:
    w = world({(Step.SOURCE_CONNECTION, 1): "rejected"})
    done = w.deliver()
    assert done is not None
    assert done.finished == "failed"
    assert done.settle.action == "park"
    assert done.settle.headers["x-dataflow-reason"] == "rejected"
    failed = names(w.events, DataflowFailed)
    assert len(failed) == 1
    assert failed[0].step == "source_connection"  # type: ignore[attr-defined]
    assert w.record.step("source_connection").state == "failed"


def test_the_last_allowed_attempt_fails_as_retries_exhausted() -> None:
    w = world({(Step.TARGET_SCHEMA, n): "retryable" for n in range(1, 10)})
    w.run()
    (failed,) = names(w.events, DataflowFailed)
    assert failed.error.kind == "retries_exhausted"  # type: ignore[attr-defined]
    assert w.record.step("target_schema").attempts == 4


def test_a_create_whose_answer_was_lost_is_looked_up_and_adopted_as_found() -> None:
    w = world({(Step.TARGET_DATASET, 1): "applied_then_lost"})
    done = w.deliver()
    assert done is not None
    assert done.finished == "created"
    assert w.creates.count(Step.TARGET_DATASET) == 1
    outcomes = {e.step: e.outcome for e in names(w.events, StepCompleted)}  # type: ignore[attr-defined]
    assert outcomes["target_dataset"] == "found"


def test_a_lost_answer_of_a_create_that_did_not_happen_is_retried_later() -> None:
    w = world({(Step.TARGET_DATASET, 1): "outcome_unknown"})
    first = w.deliver()
    assert first is not None
    assert first.retried is Step.TARGET_DATASET
    w.run()
    assert w.creates.count(Step.TARGET_DATASET) == 1


def test_a_step_started_before_a_crash_looks_up_its_resource_and_does_not_create_again() -> None:
    w = world()
    # Crash right after the dataset's create was sent (its intent is durable).
    for crash_after in range(1, 40):
        w = world()
        assert w.deliver(crash_after=crash_after) is None or w.concluded
        if w.concluded:
            break
        w.run()
        assert Counter(w.creates).most_common(1)[0][1] == 1, crash_after
        assert len(w.concluded) == 1


def test_refused_credentials_open_the_circuit_and_hand_the_request_back_with_the_error() -> None:
    w = world({(Step.SOURCE_CONNECTION, 1): "authentication"})
    done = w.deliver()
    assert done is not None
    assert done.settle.headers["x-dataflow-copy"] == "authentication"
    assert w.breaker_trips == 1
    assert w.record.status == "pending"
    assert w.record.unsettled_deliveries == 0
    assert w.record.last_error is not None
    assert w.record.last_error["kind"] == "authentication"


def test_a_failure_while_the_breaker_is_open_hands_back_instead_of_retrying() -> None:
    machine = Machine(facts(), limits())
    w = World(machine)
    state, _ = machine.begin(w.record, Begin(w.now))
    failure = Failure("retryable", {"message": "503"}, breaker_open=True, opened_breaker=True)
    state, effects = machine.observe(state, Failed(Step.FLOW_SPEC, failure, w.now))
    (done,) = [e for e in effects if isinstance(e, Done)]
    assert done.settle.headers["x-dataflow-copy"] == "platform_unavailable"
    assert done.retried is None


def test_a_failure_in_one_branch_lets_the_other_finish_before_the_retry() -> None:
    machine = Machine(facts(), limits())
    w = World(machine)
    state, _ = machine.begin(w.record, Begin(w.now))
    spec = Succeeded(Step.FLOW_SPEC, "spec-1", "reused", 0.1, w.now)
    state, _ = machine.observe(state, spec)
    failure = Failure("retryable", {"message": "503"}, jitter=0.5)
    state, effects = machine.observe(state, Failed(Step.TARGET_SCHEMA, failure, w.now))
    assert effects == []  # the source connection still runs
    source = Succeeded(Step.SOURCE_CONNECTION, "src-1", "created", 0.1, w.now)
    state, effects = machine.observe(state, source)
    assert not [e for e in effects if isinstance(e, Call)]
    done = [e for e in effects if isinstance(e, Done)]
    assert done[0].retried is Step.TARGET_SCHEMA
    assert state.record.step("source_connection").state == "done"


def test_rollback_deletes_what_the_request_made_newest_first_and_reports_the_mapping_set() -> None:
    w = world({(Step.DATAFLOW, 1): "rejected"}, rollback=True)
    done = w.deliver()
    assert done is not None
    assert done.finished == "failed"
    assert w.deleted == [
        Step.TARGET_CONNECTION,
        Step.TARGET_DATASET,
        Step.TARGET_SCHEMA,
        Step.SOURCE_CONNECTION,
    ]
    (failed,) = names(w.events, DataflowFailed)
    assert failed.rolled_back == [s.value for s in w.deleted]  # type: ignore[attr-defined]
    assert list(failed.created) == ["mapping_set"]  # type: ignore[attr-defined]
    assert failed.step == "dataflow"  # type: ignore[attr-defined]


def test_a_replay_after_rollback_creates_again_what_was_deleted() -> None:
    from worker.core.changes import reopened

    w = world({(Step.DATAFLOW, 1): "rejected"}, rollback=True)
    w.deliver()
    w.record = reopened(w.record, w.now)
    w.concluded.clear()
    done = w.deliver()
    assert done is not None
    assert done.finished == "created"
    for step in w.deleted:
        assert w.creates.count(step) == 2
    created = names(w.events, DataflowCreated)[-1]
    assert created.source_connection_id == w.made[Step.SOURCE_CONNECTION]  # type: ignore[attr-defined]
    assert created.target_connection_id == w.made[Step.TARGET_CONNECTION]  # type: ignore[attr-defined]


def test_rollback_never_deletes_a_dataset_the_request_supplied() -> None:
    reuses = frozenset({Step.FLOW_SPEC, Step.TARGET_DATASET})
    w = world({(Step.DATAFLOW, 1): "rejected"}, rollback=True, reuses=reuses)
    w.deliver()
    assert Step.TARGET_DATASET not in w.deleted
    assert Step.TARGET_SCHEMA in w.deleted


def test_a_crash_in_the_middle_of_a_rollback_resumes_it() -> None:
    w = world({(Step.DATAFLOW, 1): "rejected"}, rollback=True)
    crashed = None
    for crash_after in range(1, 60):
        w = world({(Step.DATAFLOW, 1): "rejected"}, rollback=True)
        if w.deliver(crash_after=crash_after) is None and w.deleted:
            crashed = crash_after
            break
    assert crashed is not None
    done = w.deliver()
    assert done is not None
    assert done.finished == "failed"
    assert Counter(w.deleted).most_common(1)[0][1] == 1
    assert len(w.deleted) == 4


def test_a_message_delivered_again_and_again_without_settling_ends_as_poison() -> None:
    w = world()
    w.record = replace(w.record, unsettled_deliveries=6)
    done = w.deliver()
    assert done is not None
    (failed,) = names(w.events, DataflowFailed)
    assert failed.error.kind == "poison"  # type: ignore[attr-defined]
    assert w.creates == []


def test_a_rollback_that_keeps_dying_ends_as_poison_naming_what_it_left() -> None:
    for crash_after in range(1, 40):  # the rollback began (durable), then the worker died
        w = world({(Step.DATAFLOW, 1): "rejected"}, rollback=True)
        w.deliver(crash_after=crash_after)
        if w.record.operation == "rollback":
            break
    assert w.record.operation == "rollback"
    w.record = replace(w.record, unsettled_deliveries=6)
    done = w.deliver()
    assert done is not None
    (failed,) = names(w.events, DataflowFailed)
    assert failed.error.kind == "poison"  # type: ignore[attr-defined]
    left = {s.value for s in w.made} - {Step.FLOW_SPEC.value, Step.MAPPING_SET.value}
    assert left
    assert left <= set(failed.created)  # type: ignore[attr-defined]


def test_a_shutdown_lets_running_branches_end_then_hands_the_request_back() -> None:
    w = world()
    done = w.deliver(interrupt="shutdown")
    assert done is not None
    assert done.settle.action == "requeue"
    assert w.record.status == "pending"
    assert w.record.lease_owner is None
    assert w.record.step("flow_spec").state == "done"  # the running call ended and was recorded


def test_a_lost_lease_cancels_the_calls_and_acks_without_writing() -> None:
    machine = Machine(facts(), limits())
    w = World(machine)
    state, _ = machine.begin(w.record, Begin(w.now))
    state, effects = machine.observe(state, Interrupted("lease_lost", w.now))
    assert isinstance(effects[0], CancelCalls)
    assert effects[-1] == Done(effects[-1].settle)  # type: ignore[union-attr]
    assert not [e for e in effects if isinstance(e, Write)]


def test_a_deletion_the_platform_refuses_leaves_the_resource_reported_as_created() -> None:
    w = world({(Step.DATAFLOW, 1): "rejected", (Step.TARGET_DATASET, 2): "rejected"}, rollback=True)
    w.deliver()
    (failed,) = names(w.events, DataflowFailed)
    assert "target_dataset" not in failed.rolled_back  # type: ignore[attr-defined]
    assert failed.created["target_dataset"] == w.made[Step.TARGET_DATASET]  # type: ignore[attr-defined]
    assert Step.TARGET_SCHEMA in w.deleted


def test_a_create_throttled_by_the_gateway_is_created_again_without_a_look_up() -> None:
    w = world({(Step.TARGET_SCHEMA, 1): "throttled", (Step.SOURCE_CONNECTION, 1): "retryable"})
    w.deliver()
    assert w.record.step("target_schema").state == "unapplied"
    assert w.record.step("source_connection").state == "started"
    w.run()
    assert w.lookups == [Step.SOURCE_CONNECTION]  # it may have been applied: looked up first
    assert sorted(w.creates).count(Step.TARGET_SCHEMA) == 1
    assert w.record.status == "created"


ANSWERS = st.sampled_from(
    ["ok", "ok", "ok", "retryable", "outcome_unknown", "applied_then_lost", "throttled"]
)


@settings(max_examples=300, deadline=None)
@given(
    answers=st.lists(ANSWERS, min_size=40, max_size=40),
    orders=st.lists(st.integers(0, 3), min_size=200, max_size=200),
    crashes=st.lists(st.one_of(st.none(), st.integers(1, 25)), min_size=30, max_size=30),
    rejected=st.booleans(),
    rollback=st.booleans(),
)
def test_every_request_ends_in_exactly_one_terminal_event_and_never_creates_twice(
    answers: list[str],
    orders: list[int],
    crashes: list[int | None],
    rejected: bool,
    rollback: bool,
) -> None:
    script = iter(answers)
    choices = iter(orders)

    def answer(call: Call) -> str:
        if rejected and call.step is Step.DATAFLOW and call.mode == "create":
            return "rejected"
        if call.mode == "delete":
            return "ok"
        return next(script, "ok")

    w = World(Machine(facts(rollback=rollback), limits(max_attempts=30)), script=answer)
    for crash in crashes:
        w.deliver(lambda pending: next(choices, 0), crash_after=crash)
        if w.concluded:
            break
    while not w.concluded:
        w.deliver(lambda pending: next(choices, 0))
    assert len(w.concluded) == 1
    assert all(n == 1 for n in Counter(w.creates).values())  # every resource created once
    terminal = [e for e in w.events if isinstance(e, DataflowCreated | DataflowFailed)]
    assert len(terminal) == 1
    if w.record.status == "failed" and rollback:
        failed = terminal[0]
        assert isinstance(failed, DataflowFailed)
        left = {step.value for step in w.made} - {Step.FLOW_SPEC.value, Step.MAPPING_SET.value}
        if failed.error.kind == "poison":
            # The guard stops everything, rollback too. The event names what is left, but for a
            # create whose answer was lost: its durable intent (a name) lets a replay find it.
            unnamed = left - set(failed.created)
            assert all(w.record.step(step).state == "started" for step in unnamed)
        else:  # what it made is gone, but a mapping set
            assert not left
    if rejected:
        assert w.record.status == "failed"
