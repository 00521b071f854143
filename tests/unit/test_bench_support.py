"""The benchmarks' CPU accounting: per process, the run's own services only, never negative."""

from __future__ import annotations

from bench.support import _SERVE, _party, cpu_used


def test_a_process_that_ended_or_started_between_readings_never_makes_a_party_negative() -> None:
    before = {1: ("postgresql", 5.0), 2: ("emulator", 3.0), 3: ("rabbitmq", 10.0)}
    after = {2: ("emulator", 4.5), 3: ("rabbitmq", 12.0), 4: ("postgresql", 0.25)}
    assert cpu_used(before, after) == {"rabbitmq": 2.0, "postgresql": 0.25, "emulator": 1.5}


def test_only_the_runs_database_backends_and_emulator_are_counted() -> None:
    def party(comm: str, *arguments: str) -> str | None:
        return _party(comm, list(arguments), "bench_db", "8123")

    assert party("postgres", "postgres: 15/main: postgres bench_db 127.0.0.1(50312) idle") == (
        "postgresql"
    )
    assert party("postgres", "postgres: 15/main: postgres other 127.0.0.1(50313) idle") is None
    assert party("postgres", "postgres: 15/main: walwriter ") == "postgresql"
    assert party("python3", "python3", "-c", _SERVE, "8123", "50000") == "emulator"
    assert party("python3", "python3", "-c", _SERVE, "9999", "50000") is None
    assert party("beam.smp", "/usr/lib/erlang/erts/bin/beam.smp") == "rabbitmq"
