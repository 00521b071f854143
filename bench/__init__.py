"""Benchmarks: numbers measured side by side in one run, never pass/fail assertions."""
