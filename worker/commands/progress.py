"""Progress of dataflows being onboarded: a bar on a terminal, a line at intervals off one.

A progress bar redraws itself in place, which only a terminal can show; in CI or a file it
would print nothing until the end. Off a terminal the same progress is a plain line on standard
error when following starts, every ``every`` seconds, and when it ends. :class:`Tally` and
:class:`Pacer` are pure; the displays only print.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from worker.commands.output import make_console
from worker.core.text import plural

Outcome = Literal["step", "created", "updated", "deleted", "failed"]
"""What one event means for the progress: a step done, or a dataflow's command ended."""

_ENDED: tuple[Outcome, ...] = ("created", "updated", "deleted")
_OUTCOMES: dict[str, Outcome] = {outcome: outcome for outcome in (*_ENDED, "failed")}

DEFAULT_EVERY_SECONDS = 10.0


@dataclass
class Tally:
    """How far the dataflows got: steps done, commands ended (each way) and failed, of totals.

    ``shown``: the endings a line always counts (what the command is about); the others only
    once some happened.
    """

    dataflows: int | None = None
    steps: int | None = None
    steps_done: int = 0
    failed: int = 0
    ended: dict[str, int] = field(default_factory=dict)
    shown: tuple[Outcome, ...] = ("created",)

    def record(self, outcome: Outcome) -> None:
        """Count one event's outcome."""
        if outcome == "failed":
            self.failed += 1
        elif outcome == "step":
            self.steps_done += 1
        else:
            self.ended[outcome] = self.ended.get(outcome, 0) + 1

    def counts(self) -> tuple[int, ...]:
        """Steps done, then each ending's count, then failures (to see whether any changed)."""
        return (self.steps_done, *(self.ended.get(word, 0) for word in _ENDED), self.failed)

    def line(self, label: str, elapsed: float) -> str:
        """One line for a log: ``onboard: 1 of 3 dataflows done (1 created, 0 failed), ...``."""
        done = sum(self.ended.values()) + self.failed
        dataflows = plural(self.dataflows, "dataflow") if self.dataflows is not None else "?"
        steps = f"{self.steps_done} of {self.steps if self.steps is not None else '?'} steps"
        endings = [
            f"{self.ended.get(word, 0)} {word}"
            for word in _ENDED
            if word in self.shown or self.ended.get(word)
        ]
        endings.append(f"{self.failed} failed")
        ended = ", ".join(endings)
        return f"{label}: {done} of {dataflows} done ({ended}), {steps}, {elapsed:.0f} s"


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

    def __init__(
        self,
        label: str,
        every: float,
        clock: Callable[[], float] = time.monotonic,
        *,
        shown: tuple[Outcome, ...] = ("created",),
    ):
        self._label = label
        self._clock = clock
        self._began = clock()
        self._pacer = Pacer(every, clock)
        self._console = make_console(stderr=True)
        self.tally = Tally(shown=shown)
        self._printed: tuple[int, ...] | None = None

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
        if self.tally.counts() != self._printed:
            self._print()

    def _print(self) -> None:
        self._printed = self.tally.counts()
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


def progress_display(
    label: str, every: float = DEFAULT_EVERY_SECONDS, *, shown: tuple[Outcome, ...] = ("created",)
) -> Display:
    """Bars when standard error is a terminal; else lines at the start, at intervals, at the end.

    ``shown``: the endings the lines always count (``created`` for onboarding, ``deleted`` for
    deletions); the others appear once they happen.
    """
    console = make_console(stderr=True)
    if console.is_terminal:
        return BarDisplay(console)
    return LineDisplay(label, every, shown=shown)


def outcome_of(status: str) -> Outcome:
    """The progress outcome of a row's new status: its command ended (and how), else a step."""
    return _OUTCOMES.get(status, "step")
