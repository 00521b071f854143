"""Progress off a terminal: a line at the start, at most one per interval, one at the end."""

from __future__ import annotations

import pytest

from worker.commands.progress import LineDisplay, Pacer, Tally, outcome_of


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_tally_counts_steps_and_endings_against_the_totals() -> None:
    tally = Tally(dataflows=3, steps=21)
    for outcome in ("step", "step", "created", "failed"):
        tally.record(outcome_of(outcome))
    assert tally.line("onboard", 12.4) == (
        "onboard: 2 of 3 dataflows done (1 created, 1 failed), 2 of 21 steps, 12 s"
    )


def test_the_tally_counts_the_endings_its_command_is_about_and_others_once_they_happen() -> None:
    tally = Tally(dataflows=3, shown=("deleted",))
    assert tally.line("delete", 0).startswith("delete: 0 of 3 dataflows done (0 deleted, 0 failed)")
    for status in ("deleted", "updated", "running (dataflow deleted)"):
        tally.record(outcome_of(status))
    assert tally.line("delete", 2) == (
        "delete: 2 of 3 dataflows done (1 updated, 1 deleted, 0 failed), 1 of ? steps, 2 s"
    )


def test_a_tally_without_totals_says_so() -> None:
    assert Tally().line("demo", 0) == "demo: 0 of ? done (0 created, 0 failed), 0 of ? steps, 0 s"


def test_one_dataflow_is_singular() -> None:
    assert Tally(dataflows=1, steps=7).line("onboard", 1).startswith("onboard: 0 of 1 dataflow ")


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("created", "created"), ("failed", "failed"), ("running (dataflow done)", "step")],
)
def test_a_table_status_is_a_step_unless_the_dataflow_ended(status: str, outcome: str) -> None:
    assert outcome_of(status) == outcome


def test_the_pacer_is_due_once_per_interval_however_often_it_is_asked() -> None:
    clock = FakeClock()
    pacer = Pacer(10, clock)
    answers = []
    for _ in range(25):
        clock.now += 1
        answers.append(pacer.due())
    assert [index + 1 for index, due in enumerate(answers) if due] == [10, 20]


def test_lines_come_at_the_start_at_each_interval_and_at_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    clock = FakeClock()
    display = LineDisplay("onboard", 10, clock)
    display.start(2, 14)
    for _ in range(7):
        clock.now += 2
        display.tick()
    display.record("created")
    clock.now += 9
    display.record("created")
    display.close()
    assert capsys.readouterr().err.splitlines() == [
        "onboard: 0 of 2 dataflows done (0 created, 0 failed), 0 of 14 steps, 0 s",
        "onboard: 0 of 2 dataflows done (0 created, 0 failed), 0 of 14 steps, 10 s",
        "onboard: 2 of 2 dataflows done (2 created, 0 failed), 0 of 14 steps, 23 s",
    ]  # the end said nothing new, so no repeated last line


def test_the_end_is_printed_when_it_says_something_new(capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock()
    display = LineDisplay("onboard", 10, clock)
    display.start(1, 7)
    clock.now += 3
    display.record("failed")
    display.close()
    assert capsys.readouterr().err.splitlines() == [
        "onboard: 0 of 1 dataflow done (0 created, 0 failed), 0 of 7 steps, 0 s",
        "onboard: 1 of 1 dataflow done (0 created, 1 failed), 0 of 7 steps, 3 s",
    ]
