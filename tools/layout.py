"""The package's layout as a rule: which folder of ``engage_web`` may import which.

``docs/design.md`` ("The layout") explains it; the purity test
(``tests/unit/test_engine_purity.py``) holds the code to it, and the build (``tools/dist.py``) ships
to the browser what the rule says runs there. A new module goes into one of the folders; only the
composition roots stand at the package's top::

    >>> folder_of("core/retry.py"), folder_of("__init__.py")
    ('core', None)
    >>> may_import("driver", "core"), may_import("core", "browser")
    (True, False)
    >>> [rel for rel in ("core/wire.py", "cpython/cli.py", "__main__.py", "browser/worker.py")
    ...  if runs_in_browser(rel)]
    ['core/wire.py', 'browser/worker.py']
"""

from __future__ import annotations

__all__ = [
    "BROWSER",
    "FOLDERS",
    "PACKAGE",
    "ROOTS",
    "folder_of",
    "may_import",
    "runs_in_browser",
]

PACKAGE = "engage_web"

#: Each folder of the package and the folders its modules may import: the core only itself,
#: the driver the core, each adapter wing the core, the driver and itself, never the other wing.
FOLDERS: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "driver": frozenset({"core", "driver"}),
    "browser": frozenset({"core", "driver", "browser"}),
    "cpython": frozenset({"core", "driver", "cpython"}),
}

#: The composition roots at the package's top (they may import every folder) and, for each,
#: whether it runs in the browser: ``engage_web.ChatApi`` does (PyScript pages), the command
#: line does not.
ROOTS: dict[str, bool] = {"__init__.py": True, "__main__.py": False}

#: The one folder that may import ``js``, ``pyodide`` or ``pyscript``.
BROWSER = "browser"

#: The wing that never runs in the browser.
_CPYTHON_ONLY = "cpython"


def folder_of(rel: str) -> str | None:
    """The folder of a path relative to the package (``None`` for a top-level module)."""
    head, sep, _ = rel.partition("/")
    return head if sep else None


def may_import(importer: str | None, imported: str | None) -> bool:
    """Whether a module of folder ``importer`` (``None``: a composition root) may import one of
    folder ``imported`` (``None``: the package's top, i.e. a composition root)."""
    if importer is None:
        return True
    if imported is None:
        return False
    return imported in FOLDERS.get(importer, frozenset())


def runs_in_browser(rel: str) -> bool:
    """Whether the module (or data file) at ``rel`` belongs in the browser's engine bundle."""
    folder = folder_of(rel)
    if folder is None:
        return ROOTS.get(rel, False)
    return folder in FOLDERS and folder != _CPYTHON_ONLY
