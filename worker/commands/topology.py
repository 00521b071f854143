"""``dataflow-worker topology show`` and ``topology delete``: one prefix's exchanges and queues.

``show`` looks without creating anything; ``delete`` removes the queues (and the messages they
hold) and the exchanges of a prefix, after a confirmation or with ``--yes``, and refuses while
workers of that prefix consume. :func:`deletion_question` and :func:`topology_table` are pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import click
from rich.table import Table
from rich.text import Text

from worker.broker.inventory import Entity, Inventory
from worker.broker.topology import Topology
from worker.commands.output import confirm, make_console
from worker.config import load_settings
from worker.core.text import plural
from worker.onboarding.introspect import redact

_PREFIX_OPTION = click.option(
    "--prefix",
    help="The topology prefix (default: DATAFLOW_TOPOLOGY_PREFIX, else dataflow).",
)


def _inventory(prefix: str | None) -> tuple[Inventory, str, str]:
    """The inventory of the chosen prefix, the prefix and the broker URL without its password."""
    settings = load_settings()
    chosen = prefix or settings.topology_prefix
    return Inventory(settings.broker(), Topology(chosen)), chosen, redact(settings.broker_url)


def topology_table(found: Sequence[Entity], prefix: str) -> Table:
    """Each exchange and queue of the prefix: present or not, messages, consumers."""
    table = Table(title=f"topology {prefix!r}", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("kind")
    table.add_column("messages", justify="right")
    table.add_column("consumers", justify="right")
    for entity in found:
        if not entity.exists:
            table.add_row(entity.name, entity.kind, Text("absent", "dim"), "")
        elif entity.kind == "exchange":
            table.add_row(entity.name, entity.kind, "", "")
        else:
            table.add_row(entity.name, entity.kind, str(entity.messages), str(entity.consumers))
    return table


def deletion_question(found: Sequence[Entity], prefix: str, where: str) -> str:
    """What ``delete`` asks before it deletes: how many queues, messages and exchanges."""
    queues = [e for e in found if e.exists and e.kind == "queue"]
    exchanges = [e for e in found if e.exists and e.kind == "exchange"]
    messages = sum(e.messages for e in queues)
    holding = ", ".join(f"{e.name} {e.messages}" for e in queues if e.messages)
    lost = f" ({holding}), which are lost" if holding else ""
    return (
        f"Delete the topology of prefix {prefix!r} on {where}: "
        f"{plural(len(queues), 'queue')} holding {plural(messages, 'message')}{lost}, "
        f"and {plural(len(exchanges), 'exchange')}?"
    )


@click.group()
def topology() -> None:
    """The exchanges and queues of a topology prefix on the broker."""


@topology.command(name="show", short_help="Show a prefix's exchanges and queues.")
@_PREFIX_OPTION
def show(prefix: str | None) -> None:
    """Show each exchange and queue of the prefix: present or absent, messages, consumers.

    Looks with passive declares, so it creates nothing. Reads DATAFLOW_BROKER_URL and
    DATAFLOW_TOPOLOGY_PREFIX.

    \b
    Examples:
      dataflow-worker topology show
      dataflow-worker topology show --prefix staging
    """
    inventory, chosen, _ = _inventory(prefix)
    make_console().print(topology_table(inventory.look(), chosen))


@topology.command(name="delete", short_help="Delete a prefix's exchanges and queues.")
@_PREFIX_OPTION
@click.option("--yes", "-y", is_flag=True, help="Do not ask for a confirmation.")
def delete(prefix: str | None, yes: bool) -> None:
    """Delete every exchange and queue of the prefix, with the messages they hold.

    Asks first (naming the queues that hold messages) unless --yes. Refuses, exit 1, while a
    queue of the prefix has consumers: stop its workers first, or they declare it all again.
    Reads DATAFLOW_BROKER_URL and DATAFLOW_TOPOLOGY_PREFIX.

    \b
    Examples:
      dataflow-worker topology delete --prefix staging
      dataflow-worker topology delete --prefix ci-1234 --yes
    """
    inventory, chosen, where = _inventory(prefix)
    found = inventory.look()
    if not any(entity.exists for entity in found):
        click.echo(f"nothing to delete: no exchange or queue of prefix {chosen!r} exists")
        return
    confirm(deletion_question(found, chosen, where), yes=yes)
    deleted = inventory.delete()
    queues = [entity for entity in deleted if entity.kind == "queue"]
    messages = sum(entity.messages for entity in queues)
    click.echo(
        f"deleted {plural(len(queues), 'queue')} ({plural(messages, 'message')}) and "
        f"{plural(len(deleted) - len(queues), 'exchange')} of prefix {chosen!r}"
    )
