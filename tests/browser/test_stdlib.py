"""The trimmed standard library the worker boots with lacks nothing the engine imports.

In headless Chromium, Pyodide boots normally (no snapshot) once with Pyodide's full library and
once with the build's trimmed one; each time every module of the engine bundle and every module
any engine file names in an ``import`` statement (lazy ones included) is imported. The trimmed
library must import exactly what the full one does.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Probe
from tools.stdlib import engine_import_names

pytestmark = pytest.mark.browser

WORKER = """
import { loadPyodide } from "/pyodide/pyodide.mjs";
try {
  const pyodide = await loadPyodide({ indexURL: "/pyodide/", ...OPTIONS });
  const engine = await (await fetch("/engage_web.zip")).arrayBuffer();
  pyodide.unpackArchive(engine, "zip", { extractDir: "/engage" });
  postMessage(pyodide.runPython(CODE));
} catch (error) {
  postMessage(JSON.stringify({ error: String(error) }));
}
"""

CODE = """
import sys, json, importlib
sys.path.insert(0, "/engage")
failed = {}
for name in NAMES:
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
json.dumps({"failed": failed})
"""


def _names(dist: Path) -> list[str]:
    with zipfile.ZipFile(dist / "engage_web.zip") as bundle:
        sources = {n: bundle.read(n).decode() for n in bundle.namelist() if n.endswith(".py")}
    own = {
        n.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for n in sources
    }
    return sorted(own | engine_import_names(sources))


def _imports(probe: Probe, dist: Path, options: dict[str, Any]) -> dict[str, str]:
    code = CODE.replace("NAMES", json.dumps(_names(dist)))
    source = WORKER.replace("OPTIONS", json.dumps(options)).replace("CODE", json.dumps(code))
    context = probe.new_context()
    context.route(
        probe.base_url + "/.stdlib-check/worker.mjs",
        lambda route: route.fulfill(content_type="text/javascript", body=source),
    )
    page = probe.open(
        "<!doctype html><meta charset='utf-8'><link rel='icon' href='data:,'><script>"
        "window.result = null; new Worker('/.stdlib-check/worker.mjs', {type: 'module'})"
        ".onmessage = (e) => { window.result = JSON.parse(e.data); };</script>",
        context=context,
        path="/.stdlib-check/page.html",
    )
    page.wait_for_function("window.result !== null")
    result = page.evaluate("window.result")
    assert "error" not in result, result
    return result["failed"]


def test_the_trimmed_library_imports_whatever_the_full_one_does(probe: Probe, dist_dir: Path):
    """Every engine module imports with the trimmed library, and every name the engine imports
    (lazily or not) behaves as with Pyodide's full library: a name the trimmed one lacks would be
    an ImportError only some visitors' first retry or report would meet."""
    from tools.snapshot import load_manifest

    info = load_manifest(dist_dir)
    assert info is not None, "the build made no snapshot"
    assert info.stdlib, "the build made no trimmed library"
    full = _imports(probe, dist_dir, {})
    assert not [name for name in full if name.startswith("engage_web")], full
    trimmed = _imports(probe, dist_dir, {"stdLibURL": f"/{info.stdlib}"})
    assert trimmed == full
