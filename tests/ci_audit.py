"""The ``.ci/audit.py`` script as a module, for its tests (it lives outside the packages)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / ".ci" / "audit.py"


def load_audit() -> ModuleType:
    """Import ``.ci/audit.py`` under the name ``ci_audit_script``."""
    spec = importlib.util.spec_from_file_location("ci_audit_script", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while defining
        spec.loader.exec_module(module)
    return module
