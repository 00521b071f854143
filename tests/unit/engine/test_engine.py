"""The engine on a fake Platform: the happy path, retries, rejections, adoption after crashes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import ledger_ops as ops
from tests.unit.engine.fakes import delivery, request, rig
from worker.core.delivery import COPY_HEADER
from worker.core.steps import DEPENDENCIES, Step
from worker.engine.actions import step_name
from worker.errors import RejectedError, RetryableError

ALL_STEPS = [
    "flow_spec",
    "source_connection",
    "target_schema",
    "target_dataset",
    "target_connection",
    "mapping_set",
    "dataflow",
]


def test_a_request_runs_every_step_once_and_ends_in_dataflow_created(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        settle = r.handle(delivery(request()))
        events = r.events()
        record = r.ledger.get("crm-1")
    assert settle == "ack"
    assert [e["type"] for e in events] == ["StepCompleted"] * 7 + ["DataflowCreated"]
    order = [e["data"]["step"] for e in events[:-1]]
    assert sorted(order) == sorted(ALL_STEPS)
    for step, needs in DEPENDENCIES.items():  # a step completes after what it needs
        if step.value in order:
            assert all(
                order.index(d.value) < order.index(step.value) for d in needs if d.value in order
            )
    assert [e["data"]["outcome"] for e in events[:-1]] == ["reused"] + ["created"] * 6
    created = events[-1]["data"]
    assert created["flow_id"] == r.actions.made["dataflow"]["crm crm-1 (flow) [crm-1]"]
    assert created["flow_spec_id"] == "flow-spec-1"
    assert created["attempts"] == 7
    assert record is not None
    assert record.status == "created"
    assert [kind for kind, _ in r.actions.calls].count("find") == 0


def test_a_flow_spec_the_client_knows_is_reused_without_a_call_and_reported_alike(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.actions.known_flow_spec = True
        settle = r.handle(delivery(request()))
        events = r.events()
    assert settle == "ack"
    assert ("reuse", "flow_spec") not in r.actions.calls
    first = events[0]["data"]
    assert (first["step"], first["outcome"], first["resource_id"]) == (
        "flow_spec",
        "reused",
        "flow-spec-1",
    )
    assert events[-1]["type"] == "DataflowCreated"
    assert events[-1]["data"]["flow_spec_id"] == "flow-spec-1"


def test_every_event_carries_the_worker_source_and_the_request_as_subject(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.handle(delivery(request()))
        events = r.events()
    assert {e["source"] for e in events} == {"urn:dataflow-worker:test"}
    assert {e["subject"] for e in events} == {"crm-1"}
    assert len({e["id"] for e in events}) == len(events)


def test_a_retryable_error_schedules_a_delayed_copy_and_the_copy_finishes_the_request(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.actions.failures[Step.TARGET_DATASET] = [RetryableError("503", status=503)]
        first = r.handle(delivery(request()))
        waiting = r.ledger.get("crm-1")
        [copy] = r.delayed()
        r.clock.now += 60
        second = r.handle(copy)
        events = r.events()
    assert (first, second) == ("ack", "ack")
    assert waiting is not None
    assert waiting.status == "waiting_retry"
    assert copy.headers[COPY_HEADER] == "retry"
    dataset = [e for e in events if e["data"].get("step") == "target_dataset"]
    assert [(e["data"]["outcome"], e["data"]["attempts"]) for e in dataset] == [("created", 2)]
    assert events[-1]["type"] == "DataflowCreated"
    # The second attempt of a step whose intent exists looks up before creating again.
    assert r.actions.count("find", Step.TARGET_DATASET) == 1
    assert r.actions.count("create", Step.SOURCE_CONNECTION) == 1


def test_a_copy_that_arrives_before_its_time_is_delayed_again_without_running(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        throttled = RetryableError("429", status=429, retry_after_seconds=30)
        r.actions.failures[Step.TARGET_DATASET] = [throttled]
        r.handle(delivery(request()))
        [copy] = r.delayed()
        calls = len(r.actions.calls)
        settle = r.handle(copy)
        [again] = r.delayed()
    assert settle == "ack"
    assert len(r.actions.calls) == calls
    assert again.headers[COPY_HEADER] == "early"


def test_a_rejection_fails_at_once_and_parks_the_message_with_the_reason(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        r.actions.failures[Step.TARGET_CONNECTION] = [
            RejectedError("bad dataset", status=400, code="FLOW-1425-400")
        ]
        settle = r.handle(delivery(request()))
        events = r.events()
        [parked] = r.parked()
        record = r.ledger.get("crm-1")
    assert settle == "ack"
    failed = events[-1]
    assert failed["type"] == "DataflowFailed"
    assert failed["data"]["step"] == "target_connection"
    assert failed["data"]["error"] == {
        "kind": "rejected",
        "message": "bad dataset",
        "status": 400,
        "code": "FLOW-1425-400",
        "fields": None,
    }
    assert set(failed["data"]["created"]) == {
        "source_connection",
        "target_schema",
        "target_dataset",
        "mapping_set",  # made beside the dataset and target connection, once the schema existed
    }
    assert failed["data"]["rolled_back"] == []
    assert parked.headers["x-dataflow-reason"] == "rejected"
    assert record is not None
    assert record.status == "failed"
    assert r.delayed() == []


def test_the_last_allowed_attempt_fails_as_retries_exhausted(tmp_path: Path) -> None:
    with rig(tmp_path, max_attempts=2) as r:
        r.actions.failures[Step.SOURCE_CONNECTION] = [
            RetryableError("503", status=503),
            RetryableError("503", status=503),
        ]
        r.handle(delivery(request()))
        [copy] = r.delayed()
        r.clock.now += 60
        r.handle(copy)
        events = r.events()
        record = r.ledger.get("crm-1")
    failed = events[-1]["data"]
    assert failed["error"]["kind"] == "retries_exhausted"
    assert failed["step"] == "source_connection"
    assert record is not None
    assert record.step("source_connection").attempts == 2
    assert failed["attempts"] == record.attempts  # every step's attempts, the other branch's too


def test_a_create_whose_answer_was_lost_is_adopted_by_name_as_found(tmp_path: Path) -> None:
    with rig(tmp_path) as r:
        r.actions.applied_then_lost.add(Step.TARGET_SCHEMA)
        settle = r.handle(delivery(request()))
        events = r.events()
    schema = next(e for e in events if e["data"].get("step") == "target_schema")
    assert settle == "ack"
    assert schema["data"]["outcome"] == "found"
    assert len(r.actions.made["target_schema"]) == 1
    assert events[-1]["type"] == "DataflowCreated"


def test_a_step_started_before_a_crash_looks_up_its_resource_and_does_not_create_again(
    tmp_path: Path,
) -> None:
    with rig(tmp_path) as r:
        message = delivery(request())
        # Another worker created the source connection, then crashed: its claim's lease
        # expires with the step's intent written and the resource made.
        now = r.clock.now
        claim = r.ledger.claim("crm-1", _hash(), _json(), message.message_id or "", "x", 5, now)
        assert claim.fence is not None
        ops.record_intent(r.ledger, "crm-1", claim.fence, "flow_spec", now=now)
        ops.complete_step(
            r.ledger, "crm-1", claim.fence, "flow_spec", "flow-spec-1", "reused", 1, 0.1, now=now
        )
        name = step_name(Step.SOURCE_CONNECTION, request()) or ""
        ops.record_intent(r.ledger, "crm-1", claim.fence, "source_connection", name, now=now)
        r.actions.made["source_connection"] = {name: "source-before-crash"}
        r.clock.now += 3600
        settle = r.handle(message)
        events = r.events()
    source = next(e for e in events if e["data"].get("step") == "source_connection")
    assert settle == "ack"
    assert (source["data"]["outcome"], source["data"]["resource_id"]) == (
        "found",
        "source-before-crash",
    )
    assert r.actions.count("create", Step.SOURCE_CONNECTION) == 0
    assert events[-1]["data"]["source_connection_id"] == "source-before-crash"


def _hash() -> str:
    from messages.codec import content_hash

    return content_hash(request())


def _json() -> str:
    from messages.codec import canonical_content

    return canonical_content(request()).decode()


FAULTS = st.sampled_from(["none", "retryable", "rejected", "lost"])


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(faults=st.lists(st.tuples(st.sampled_from(list(Step)), FAULTS), max_size=6))
def test_every_request_reaches_exactly_one_terminal_event_and_named_resources_are_made_once(
    tmp_path: Path, faults: list[tuple[Step, str]]
) -> None:
    with (
        tempfile.TemporaryDirectory(dir=tmp_path) as directory,
        rig(Path(directory), threshold=1000) as r,
    ):
        for step, fault in faults:
            if fault == "retryable":
                r.actions.failures.setdefault(step, []).append(RetryableError("503", status=503))
            elif fault == "rejected":
                r.actions.failures.setdefault(step, []).append(RejectedError("no", status=400))
            elif fault == "lost":
                r.actions.applied_then_lost.add(step)
        r.handle(delivery(request()))
        for _ in range(30):
            copies = r.delayed()
            if not copies:
                break
            r.clock.now += 3600
            for copy in copies:
                r.handle(copy)
        events = r.events()
    terminal = [e["type"] for e in events if e["type"] != "StepCompleted"]
    assert terminal in (["DataflowCreated"], ["DataflowFailed"])
    for name, made in r.actions.made.items():
        if name != Step.MAPPING_SET.value:  # unnamed: a lost answer leaves an orphan
            assert len(made) <= 1, name
