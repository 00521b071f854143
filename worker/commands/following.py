"""``--wait`` for the commands that publish (``onboard``, ``delete``, ``enable``, ``disable``).

The tap (a temporary queue on the events exchange) is bound *before* anything is published, so
no event can be missed; :func:`follow` then reads the events, shows the progress and stops once
each followed request id has its terminal event, or when the time is up (the rest are then
``timed out``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from worker.broker.topology import Topology
from worker.commands.progress import (
    DEFAULT_EVERY_SECONDS,
    Outcome,
    outcome_of,
    progress_display,
)
from worker.config import BrokerTarget
from worker.onboarding.tracking import EventTap, TableRow, Tracker

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def event_tap(target: BrokerTarget, prefix: str, *, wait: bool) -> Iterator[EventTap | None]:
    """A tap on the events when ``wait``, deleted at the end; None otherwise."""
    if not wait:
        yield None
        return
    tap = EventTap(target, Topology(prefix))
    try:
        yield tap
    finally:
        tap.close()


def follow(
    tap: EventTap,
    tracker: Tracker,
    *,
    label: str,
    timeout: float,
    every: float = DEFAULT_EVERY_SECONDS,
    shown: tuple[Outcome, ...] = ("created",),
    steps: int | None = None,
) -> list[TableRow]:
    """Follow the events, showing progress, until every request ended or the time is up.

    ``label`` begins the progress lines (``delete: 1 of 2 dataflows done ...``); ``steps`` is
    how many steps the followed requests take in all, when known.
    """
    if tracker.done:  # nothing to follow: every row was settled without an event
        return tracker.rows()
    display = progress_display(label, every, shown=shown)
    display.start(tracker.waiting, steps)
    try:
        for event_type, data in tap.events(time.monotonic() + timeout, idle=display.tick):
            changed = tracker.observe(event_type, data)
            if changed is None:
                continue
            display.record(outcome_of(changed.status))
            if tracker.done:
                break
    finally:
        display.close()
    return tracker.rows(timed_out=not tracker.done)


def wait_options(until: str) -> Callable[[F], F]:
    """The options of a command that can follow what it published: ``--wait``, ``--timeout``
    and ``--progress-every``; ``until`` ends the help of ``--wait``."""

    def decorate(command: F) -> F:
        command = click.option(
            "--progress-every",
            default=DEFAULT_EVERY_SECONDS,
            show_default=True,
            type=click.FloatRange(min=0.1),
            help="With --wait, off a terminal: print a progress line this often (seconds).",
        )(command)
        command = click.option(
            "--timeout",
            default=600.0,
            show_default=True,
            type=click.FloatRange(min=1),
            help="With --wait: give up after this many seconds.",
        )(command)
        return click.option("--wait", is_flag=True, help=f"Follow the events until {until}.")(
            command
        )

    return decorate
