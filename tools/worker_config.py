"""``engage-config.mjs``: what the build tells the worker, as a module the worker imports.

``static/engage-worker.mjs`` is shipped as written; it starts with
``import BUILD from "./engage-config.mjs"``. The build writes that module next to it in
``dist/``, naming where Pyodide and the engine bundle are, which memory snapshot to boot from
and the Subresource Integrity hash of each file the worker loads (``integrity``, see
``tools/integrity.py``); the benchmark and the tests write their own copies next to their copies
of the worker (for example with paths relative to another directory, or naming a damaged
snapshot). Every path is relative to the worker's own URL, or absolute (a CDN)::

    >>> print(worker_config().decode())                         # doctest: +ELLIPSIS
    // Written by tools/worker_config.py (the build): what engage-worker.mjs is told. ...
    export default {
      "pyodideBase": "./pyodide/",
      "engineZip": "./engage_web.zip",
      "snapshot": null,
      "benchHooks": false,
      "integrity": {}
    };
    <BLANKLINE>
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = ["CONFIG_FILE", "read_worker_config", "worker_config"]

#: The file name the worker imports (next to it).
CONFIG_FILE = "engage-config.mjs"


def worker_config(
    *,
    pyodide_base: str = "./pyodide/",
    engine_zip: str = "./engage_web.zip",
    snapshot: Mapping[str, Any] | None = None,
    bench_hooks: bool = False,
    integrity: Mapping[str, str] | None = None,
) -> bytes:
    """The text of ``engage-config.mjs``.

    ``pyodide_base``: the folder of Pyodide's files (ending in ``/``); ``engine_zip``: the
    engine bundle; ``snapshot``: ``{"file", "buildId", "bytes"}`` of the memory snapshot
    (:meth:`tools.snapshot.SnapshotInfo.for_worker`) or ``None`` for a normal boot;
    ``bench_hooks``: expose the worker's WebAssembly memory size to the benchmark;
    ``integrity``: ``{path relative to the worker: "sha384-..."}`` of the files the worker
    fetches or imports (:func:`tools.integrity.worker_integrity`); a file without an entry is
    loaded unchecked, so copies that leave it out (the benchmark's) keep working.

    >>> text = worker_config(integrity={"./engage_web.zip": "sha384-abc"}).decode()
    >>> '"./engage_web.zip": "sha384-abc"' in text
    True
    """
    config = {
        "pyodideBase": pyodide_base,
        "engineZip": engine_zip,
        "snapshot": dict(snapshot) if snapshot is not None else None,
        "benchHooks": bench_hooks,
        "integrity": dict(integrity or {}),
    }
    head = (
        "// Written by tools/worker_config.py (the build): what engage-worker.mjs is told. "
        "Paths are relative to the worker.\n"
    )
    return (head + f"export default {json.dumps(config, indent=2)};\n").encode("utf-8")


def read_worker_config(text: bytes | str) -> dict[str, Any]:
    """The settings in the text of an ``engage-config.mjs`` this module wrote (its inverse).

    >>> read_worker_config(worker_config(engine_zip="./e.zip"))["engineZip"]
    './e.zip'
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    _, marker, body = text.partition("export default ")
    if not marker or not body.rstrip().endswith(";"):
        raise ValueError("not an engage-config.mjs written by tools/worker_config.py")
    return json.loads(body.rstrip()[:-1])
