"""The contract package depends on pydantic only: no worker, emulator, kombu or httpx."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "messages"
FORBIDDEN = ("worker", "emulator", "kombu", "httpx", "amqp", "psycopg", "pymysql", "sqlite3")
# export.py is the generator behind `make schemas`, a development tool: it alone may use PyYAML.
ALLOWED_THIRD_PARTY = {"pydantic", "pydantic_core", "typing_extensions"}
TOOL_ONLY = {"export.py": {"yaml"}}


def imported_roots(path: Path) -> set[str]:
    """The top-level names of every module a source file imports."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: p.name)
def test_a_module_imports_only_the_standard_library_pydantic_and_itself(path: Path) -> None:
    allowed = ALLOWED_THIRD_PARTY | {"messages"} | TOOL_ONLY.get(path.name, set())
    outside = {
        root
        for root in imported_roots(path)
        if root not in sys.stdlib_module_names or root in FORBIDDEN
    }
    assert outside <= allowed, f"{path.name} imports {sorted(outside - allowed)}"


def test_importing_messages_loads_no_forbidden_module() -> None:
    probe = "import sys, json, messages; print(json.dumps(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = {name.split(".")[0] for name in json.loads(result.stdout)}
    assert "messages" in loaded
    assert loaded.isdisjoint({*FORBIDDEN, "yaml"})
