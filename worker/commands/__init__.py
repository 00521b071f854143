"""The subcommands of ``dataflow-worker``, one module each."""

from __future__ import annotations

import click

from worker.commands.audit import audit
from worker.commands.connections import connections
from worker.commands.connectors import connectors
from worker.commands.delete import delete
from worker.commands.demo import demo
from worker.commands.discover import discover
from worker.commands.dlq import dlq
from worker.commands.doctor import doctor
from worker.commands.emulator import emulator
from worker.commands.flowstate import disable, enable
from worker.commands.onboard import onboard
from worker.commands.publish import publish
from worker.commands.run import run
from worker.commands.status import status
from worker.commands.topology import topology

COMMANDS: list[click.Command] = [
    emulator,
    run,
    publish,
    discover,
    onboard,
    disable,
    enable,
    delete,
    audit,
    status,
    dlq,
    connectors,
    topology,
    connections,
    doctor,
    demo,
]
