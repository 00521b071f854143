"""Progress of dataflows being onboarded: a bar on a terminal, a line at intervals off one.

A progress bar redraws itself in place, which only a terminal can show; in CI or a file it
would print nothing until the end. Off a terminal the same progress is a plain line on standard
error when following starts, every ``every`` seconds, and when it ends. :class:`Tally` and
:class:`Pacer` are pure; the displays only print.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from worker.commands.output import make_console
from worker.core.text import plural

Outcome = Literal["step", "created", "failed"]
"""What one event means for the progress: a step done, or a dataflow ended."""

DEFAULT_EVERY_SECONDS = 10.0


@dataclass
class Tally:
    """How far the dataflows got: steps done, dataflows created and failed, out of totals."""

    dataflows: int | None = None
    steps: int | None = None
    steps_done: int = 0
    created: int = 0
    failed: int = 0

    def record(self, outcome: Outcome) -> None:
        """Count one event's outcome."""
        if outcome == "created":
            self.created += 1
        elif outcome == "failed":
            self.failed += 1
        else:
            self.steps_done += 1

    def line(self, label: str, elapsed: float) -> str:
        """One line for a log: ``onboard: 1 of 3 dataflows done (1 created, 0 failed), ...``."""
        done = self.created + self.failed
        dataflows = plural(self.dataflows, "dataflow") if self.dataflows is not None else "?"
        steps = f"{self.steps_done} of {self.steps if self.steps is not None else '?'} steps"
        return (
            f"{label}: {done} of {dataflows} done ({self.created} created, {self.failed} "
            f"failed), {steps}, {elapsed:.0f} s"
        )


class Pacer:
    """Says when the next line is due: at most once per ``every`` seconds of ``clock``."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._next = clock() + every

    def due(self) -> bool:
        """True (and the next one scheduled) once ``every`` seconds passed since the last."""
        now = self._clock()
        if now < self._next:
            return False
        self._next = now + self._every
        return True


class Display(Protocol):
    """Where progress goes: ``start``, ``record`` and ``tick`` any number of times, ``close``."""

    def start(self, dataflows: int | None, steps: int | None) -> None:
        """Following begins (the totals may come later through another ``start``)."""

    def record(self, outcome: Outcome) -> None:
        """One event arrived."""

    def tick(self) -> None:
        """Nothing arrived; called often while waiting."""

    def close(self) -> None:
        """Following ended."""


class LineDisplay:
    """Progress as plain lines on standard error: at the start, at intervals, at the end."""

    def __init__(self, label: str, every: float, clock: Callable[[], float] = time.monotonic):
        self._label = label
        self._clock = clock
        self._began = clock()
        self._pacer = Pacer(every, clock)
        self._console = make_console(stderr=True)
        self.tally = Tally()
        self._printed: tuple[int, int, int] | None = None

    def start(self, dataflows: int | None, steps: int | None) -> None:
        """Set the totals and print the first line."""
        self.tally.dataflows, self.tally.steps = dataflows, steps
        self._print()

    def record(self, outcome: Outcome) -> None:
        """Count the event; print a line when one is due."""
        self.tally.record(outcome)
        self.tick()

    def tick(self) -> None:
        """Print a line when one is due."""
        if self._pacer.due():
            self._print()

    def close(self) -> None:
        """Print the last line, unless the one printed last already said it all."""
        if self._counts() != self._printed:
            self._print()

    def _counts(self) -> tuple[int, int, int]:
        return (self.tally.steps_done, self.tally.created, self.tally.failed)

    def _print(self) -> None:
        self._printed = self._counts()
        self._console.print(self.tally.line(self._label, self._clock() - self._began))


class BarDisplay:
    """Progress as two bars (steps, dataflows) on a terminal's standard error, erased at the end."""

    def __init__(self, console: Console) -> None:
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        self._bar = Progress(*columns, TimeElapsedColumn(), console=console, transient=True)
        self._steps = self._bar.add_task("steps", total=None)
        self._dataflows = self._bar.add_task("dataflows", total=None)

    def start(self, dataflows: int | None, steps: int | None) -> None:
        """Set the totals and show the bars."""
        self._bar.update(self._steps, total=steps)
        self._bar.update(self._dataflows, total=dataflows)
        self._bar.start()

    def record(self, outcome: Outcome) -> None:
        """Advance one bar."""
        self._bar.advance(self._steps if outcome == "step" else self._dataflows)

    def tick(self) -> None:
        """The bar redraws itself."""

    def close(self) -> None:
        """Erase the bars."""
        self._bar.stop()


def progress_display(label: str, every: float = DEFAULT_EVERY_SECONDS) -> Display:
    """Bars when standard error is a terminal; else lines at the start, at intervals, at the end."""
    console = make_console(stderr=True)
    if console.is_terminal:
        return BarDisplay(console)
    return LineDisplay(label, every)


def outcome_of(status: str) -> Outcome:
    """The progress outcome of a table's new status (``created``, ``failed``, else a step)."""
    if status == "created":
        return "created"
    if status == "failed":
        return "failed"
    return "step"
