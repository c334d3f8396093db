"""The layout holds: the core imports no adapter, and only the browser wing touches the browser.

The folders of ``engage_web`` and what each may import are written once, in ``tools/layout.py``
(``docs/design.md``, "The layout"); this test reads every module's imports, lazy ones included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tools.layout import BROWSER, FOLDERS, PACKAGE, ROOTS, folder_of, may_import

ROOT = Path(__file__).resolve().parents[2] / PACKAGE
MODULES = sorted(p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.py"))
#: Imports that would tie the core or the driver to one platform or to blocking I/O.
FORBIDDEN = {"js", "pyodide", "pyscript", "threading", "socket", "urllib.request", "http.client",
             "time", "subprocess"}
#: The real clock is the one place that may read time; everything else gets it injected.
ALLOWED = {("driver/clock.py", "time")}
BROWSER_ONLY = ("js", "pyodide", "pyscript")


def imported_modules(rel: str) -> set[str]:
    """Every module ``rel`` imports, absolute, relative imports resolved (``from . import x``
    counts as importing ``package.x``)."""
    tree = ast.parse((ROOT / rel).read_text(), filename=rel)
    package = [PACKAGE, *rel.split("/")[:-1]]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def own_folder(module: str) -> str | None:
    """The folder of one of the package's modules (``None``: the package's top)."""
    parts = module.split(".")
    return parts[1] if len(parts) >= 2 and parts[1] in FOLDERS else None


def is_of(name: str, roots: tuple[str, ...] | set[str]) -> bool:
    return any(name == r or name.startswith(r + ".") for r in roots)


def test_every_module_stands_in_a_folder_of_the_layout():
    """A module is in one of the layout's folders, or is one of the composition roots."""
    stray = [rel for rel in MODULES if folder_of(rel) not in FOLDERS and rel not in ROOTS]
    assert not stray
    assert {"core/engine.py", "core/retry.py", "driver/api.py", "browser/worker.py",
            "cpython/cli.py", "cpython/emulator/app.py"} <= set(MODULES)


@pytest.mark.parametrize("rel", MODULES)
def test_a_module_imports_only_the_folders_it_may(rel):
    """The core imports only the core, the driver only the core, a wing never the other wing;
    nothing but a composition root imports the package's top (``engage_web/__init__.py``)."""
    importer = folder_of(rel)
    bad = sorted(
        name for name in imported_modules(rel)
        if is_of(name, {PACKAGE})
        and not may_import(importer, own_folder(name))
    )
    assert not bad, f"{rel} ({importer or 'root'}) imports {bad}"


@pytest.mark.parametrize("rel", [rel for rel in MODULES if folder_of(rel) != BROWSER])
def test_only_the_browser_wing_imports_js_or_pyodide(rel):
    """``js``, ``pyodide`` and ``pyscript`` are imported in ``engage_web/browser/`` only."""
    bad = sorted(name for name in imported_modules(rel) if is_of(name, BROWSER_ONLY))
    assert not bad, f"{rel} imports {bad}"


@pytest.mark.parametrize("rel", [rel for rel in MODULES if folder_of(rel) in ("core", "driver")])
def test_core_and_driver_import_no_platform_or_blocking_io(rel):
    """No module of the core or the driver imports threads, sockets, blocking HTTP or (but the
    clock) time: they run unchanged in CPython and in Pyodide."""
    bad = sorted(
        name for name in imported_modules(rel)
        if is_of(name, FORBIDDEN) and (rel, name) not in ALLOWED
    )
    assert not bad, f"{rel} imports {bad}"
