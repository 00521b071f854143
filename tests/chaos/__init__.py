"""The chaos run: many requests through a faulty Platform while workers are killed and cut off.

``python -m tests.chaos`` (``make chaos``) runs it at full size; ``tests/integration/test_chaos.py``
runs it small. :mod:`tests.chaos.plan` says what happens and when, :mod:`tests.chaos.world` and
:mod:`tests.chaos.run` make it happen, :mod:`tests.chaos.verdict` judges the outcome. See
docs/chaos.md.
"""
