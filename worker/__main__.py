"""``python -m worker`` is the ``dataflow-worker`` command."""

from worker.cli import main

main()
