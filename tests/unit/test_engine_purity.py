"""The engine stays sans-I/O and browser-neutral: it runs unchanged in CPython and in Pyodide."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "engage_web"
#: Modules of the engine: everything but the adapters (browser/, emulator/, CLI, stdlib HTTP).
ADAPTERS = {"browser", "emulator", "cli.py", "stdlib_transport.py", "__main__.py"}
ENGINE_FILES = sorted(p for p in PACKAGE.glob("*.py") if p.name not in ADAPTERS)
#: Imports that would tie the engine to one platform or to blocking I/O.
FORBIDDEN = {"js", "pyodide", "pyscript", "threading", "socket", "urllib.request", "http.client",
             "time", "subprocess"}
#: The real clock is the one place that may read time; everything else gets it injected.
ALLOWED = {("clock.py", "time")}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_the_engine_has_modules():
    """The scan below looks at the real engine (guards against an empty glob)."""
    assert {"api.py", "engine.py", "retry.py", "validation.py"} <= {p.name for p in ENGINE_FILES}


@pytest.mark.parametrize("path", ENGINE_FILES, ids=lambda p: p.name)
def test_engine_module_imports_no_platform_or_blocking_io(path):
    """No engine module imports js, pyodide, pyscript, threads, sockets or (but clock.py) time."""
    bad = {
        name for name in imported_modules(path)
        if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)
        and (path.name, name) not in ALLOWED
    }
    assert not bad, f"{path.name} imports {sorted(bad)}"
