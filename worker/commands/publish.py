"""``dataflow-worker publish FILE``: validate requests from a file, then publish them with confirms.

Every request is validated before anything is sent. When any is invalid, each is reported with
its field paths and *nothing* is published (exit 1), so fixing the file and running again is the
whole recovery; ``--skip-invalid`` publishes the valid ones anyway (still exit 1). An unreadable
file is exit 2. ``data`` objects are wrapped in a new CloudEvent from
``urn:dataflow-worker:<host>``; whole CloudEvents are sent as they are, with their own id.
"""

from __future__ import annotations

import click

from worker.config import load_settings
from worker.core.text import plural
from worker.onboarding.manifest import read_manifest
from worker.onboarding.requests import Prepared, prepare, publish_requests, worker_source


@click.command()
@click.argument("file", type=str)
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Publish the valid requests even when some are invalid (the exit code is still 1).",
)
@click.option("--dry-run", is_flag=True, help="Validate and report; publish nothing.")
def publish(file: str, skip_invalid: bool, dry_run: bool) -> None:
    """Publish DataflowRequested messages from FILE (JSON, JSON-lines or YAML; - for stdin).

    FILE holds DataflowRequested data objects, which are wrapped in new CloudEvents, or whole
    CloudEvents, which are sent as they are. The topology is declared first and every publish
    is confirmed by the broker. Each request is validated first: when any is invalid, all
    invalid ones are listed with their field paths and nothing is published (exit 1) unless
    --skip-invalid is given. Exit 2 when FILE cannot be read.
    """
    prepared, invalid = prepare(read_manifest(file), source=worker_source())
    for problem in invalid:
        click.echo(problem.line(), err=True)
    if dry_run or (invalid and not skip_invalid):
        click.echo(unpublished_summary(len(prepared), len(invalid), dry_run=dry_run))
        if invalid:
            raise SystemExit(1)
        return
    settings = load_settings()
    publish_requests(settings.broker(), settings.topology_prefix, prepared, _echo_published)
    click.echo(f"{plural(len(prepared), 'request')} published, {len(invalid)} invalid")
    if invalid:
        raise SystemExit(1)


def unpublished_summary(valid: int, invalid: int, *, dry_run: bool) -> str:
    """The last line when nothing is published: a dry run, or a file with invalid requests."""
    if dry_run:
        return f"{plural(valid, 'request')} valid, {invalid} invalid; nothing published"
    if valid == 0:
        return f"nothing published: {plural(invalid, 'request')} invalid, none valid"
    return (
        f"nothing published: {plural(invalid, 'request')} invalid, {valid} valid "
        "(fix the invalid ones, or publish the valid ones with --skip-invalid)"
    )


def _echo_published(request: Prepared) -> None:
    click.echo(f"published {request.request_id} (event {request.event_id}, {request.location})")
