"""Assemble ``dist/``: everything a web server needs to offer the one-tag embed, self-hosted.

``python3 build.py build`` calls :func:`build` after ``npm ci`` has installed the pinned runtime
(``pyodide@314.0.7``, ``@pyscript/core@0.7.31``) from ``package-lock.json``. The result::

    dist/
      engage.js            the facade: one classic <script> tag defines window.ChatApi
      engage-worker.mjs    the module Worker that runs the engine in Pyodide
      engage-config.mjs    what the build tells the worker: where Pyodide is, which snapshot
      engage.d.ts          TypeScript declarations of the page API
      engage_web.zip       core/, driver/, browser/ of engage_web, unpacked into Pyodide's files
      engage-snapshot-<key>.bin      the Pyodide memory snapshot the worker boots from
      engage-snapshot.json           what that snapshot was made from (tools/snapshot.py)
      index.html, kiosk.html, embed.html, demo/, kiosk/   the pages (tools/pages.py)
      pyscript.json        PyScript config for PyScript host pages (local interpreter, our zip)
      pyodide/             the Pyodide core files loadPyodide needs (no wheels)
      pyscript/            @pyscript/core's whole dist/ folder (it loads lazy chunks from there)
      examples/            example pages (pyscript-wheel.html installs the wheel below)
      engage_web-<version>-py3-none-any.whl   the engine as a wheel, for PyScript pages
      *.br, *.gz           brotli and gzip copies of every file worth it (tools/compress.py)

The memory snapshot is made by booting the engine once in headless system Chromium (about
10 s, only when Pyodide or the engine changed); the worker checks its build id and boots
normally when it is missing or unusable, so a build without Chromium still works, only slower.

Nothing in ``dist/`` points at a CDN unless asked: ``build(root, cdn="https://host/pyodide/")``
makes the worker and ``pyscript.json`` load Pyodide from that base URL instead (it must end in a
slash and serve the same Pyodide version). The build is incremental: a file is rewritten only when
its bytes change, so a second build takes a fraction of a second::

    >>> from pathlib import Path
    >>> from tools.dist import build
    >>> build(Path("."))                                   # doctest: +SKIP
    PosixPath('dist')
"""

from __future__ import annotations

import io
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tools.compress import compress_tree
from tools.integrity import worker_integrity
from tools.layout import runs_in_browser
from tools.pages import render as render_pages
from tools.python_package import ensure_wheel
from tools.snapshot import SnapshotError, SnapshotInfo, ensure_snapshot, load_manifest
from tools.worker_config import CONFIG_FILE, worker_config

__all__ = ["PYODIDE_FILES", "build", "engine_files", "loaded_by_worker"]

#: The Pyodide core files ``loadPyodide`` fetches (the npm package ships no wheels).
PYODIDE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.mjs",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
    "package.json",
)

#: Our own files copied from static/ as they are (the worker learns the rest from
#: engage-config.mjs, which the build writes: tools/worker_config.py).
STATIC_FILES = ("engage.js", "engage-worker.mjs", "engage.d.ts")

_ENGINE_SUFFIXES = frozenset({".py", ".json", ".toml"})

#: A fixed timestamp for zip entries, so identical sources give an identical zip.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)


def build(
    root: Path, cdn: str | None = None, *, public_path: str = "/", snapshot: bool = True
) -> Path:
    """Assemble ``root/dist`` from ``node_modules``, ``static`` and ``engage_web``; return it.

    ``cdn``: optional base URL (ending in ``/``) of a Pyodide 314.0.7 distribution to load
    instead of the self-hosted ``dist/pyodide/``. ``public_path``: the URL path where ``dist/`` is
    served (default ``/``); only ``pyscript.json`` needs it (see :func:`pyscript_config`).
    ``snapshot``: make (or reuse) the memory snapshot and name it in the worker; never with a
    CDN, whose Pyodide build this machine cannot vouch for. Raises
    ``SystemExit`` with a clear message when the npm runtime is missing (run
    ``python3 build.py build``, which runs ``npm ci`` first).

    Example::

        build(Path("/work/main"))                                  # self-hosted
        build(Path("/work/main"), cdn="https://cdn.example/pyodide/v314.0.7/full/")
    """
    root = Path(root)
    out = root / "dist"
    out.mkdir(exist_ok=True)
    if cdn is not None and not re.match(r"^https?://[^\s\"']+/$", cdn):
        raise SystemExit(f"[dist] cdn must be an http(s) URL ending in '/'; got {cdn!r}")
    if not re.match(r"^/([^\s\"'?#]*/)?$", public_path):
        raise SystemExit(
            f"[dist] public_path must be a URL path that starts and ends with '/'; "
            f"got {public_path!r}"
        )

    pyodide_src = root / "node_modules" / "pyodide"
    pyscript_src = root / "node_modules" / "@pyscript" / "core" / "dist"
    for needed in (pyodide_src / "pyodide.mjs", pyscript_src / "core.js"):
        if not needed.exists():
            raise SystemExit(f"[dist] {needed} is missing: run `python3 build.py build` (npm ci)")

    for name in PYODIDE_FILES:
        _copy(pyodide_src / name, out / "pyodide" / name)
    for path in sorted(pyscript_src.rglob("*")):
        if path.is_file():
            _copy(path, out / "pyscript" / path.relative_to(pyscript_src))

    _write(out / "engage_web.zip", engine_zip(root / "engage_web"))

    static = root / "static"
    info = _snapshot(out) if snapshot and cdn is None else None
    cache = root / "node_modules" / ".cache" / "engage-web-compressed"
    # The snapshot's gzip copy is named, with its hash, in the worker's config (a server that
    # does not compress gets it instead of the raw file), so it is made before the config.
    compress_tree(out, cache=cache)
    for name in STATIC_FILES:
        _copy(static / name, out / name)
    _write(
        out / CONFIG_FILE,
        worker_config(
            pyodide_base=cdn or "./pyodide/",
            snapshot=info.for_worker(gzip=(out / f"{info.file}.gz").is_file())
            if info is not None
            else None,
            stdlib=info.stdlib if info is not None else None,
            integrity=worker_integrity(out, loaded_by_worker(info, cdn)),
        ),
    )
    for path in sorted((static / "examples").rglob("*")):
        if path.is_file():
            _copy(path, out / "examples" / path.relative_to(static / "examples"))

    _write(out / "pyscript.json", pyscript_config(cdn, public_path))
    ensure_wheel(root, out)
    render_pages(root, out, cdn=cdn)
    compress_tree(out, cache=cache)
    return out


def loaded_by_worker(info: SnapshotInfo | None = None, cdn: str | None = None) -> list[str]:
    """The files of ``dist/`` the worker loads after itself, relative to it: the engine bundle,
    the snapshot and its trimmed library (if any) and, when Pyodide is self-hosted, Pyodide's
    files (its ``package.json`` is never loaded). Each gets an integrity hash in
    ``engage-config.mjs``; a CDN's Pyodide gets none (the build cannot vouch for the bytes
    another host serves).

    >>> loaded_by_worker(cdn="https://cdn.example/pyodide/")
    ['engage_web.zip']
    >>> loaded_by_worker()[:3]
    ['engage_web.zip', 'pyodide/pyodide.mjs', 'pyodide/pyodide.asm.mjs']
    """
    files = ["engage_web.zip"]
    if cdn is None:
        files += [f"pyodide/{name}" for name in PYODIDE_FILES if name != "package.json"]
    if info is not None:
        files += [info.file, f"{info.file}.gz"]   # the gzip copy: for servers that send raw
        if info.stdlib is not None:
            files.append(info.stdlib)
    return files


def _snapshot(out: Path) -> SnapshotInfo | None:
    """The current memory snapshot of ``out`` (made when missing), or None with a warning."""
    if load_manifest(out) is None:
        print("[dist] making the Pyodide memory snapshot (boots the engine once in headless "
              "Chromium, ~10 s)", flush=True)
    try:
        return ensure_snapshot(out)
    except SnapshotError as exc:
        print(f"[dist] warning: no memory snapshot, the worker will boot normally: {exc}")
        return None


def pyscript_config(cdn: str | None = None, public_path: str = "/") -> bytes:
    """The JSON PyScript config for host pages: local interpreter, our zip, unused plugins off.

    PyScript 0.7.31 resolves ``interpreter`` against the PAGE's URL on the main thread (its
    ``offline_interpreter`` uses ``location.href``) but ``files`` against the config's URL, so
    both are written as absolute paths under ``public_path``: any page on the site may use
    ``config="<public_path>pyscript.json"``::

        >>> json.loads(pyscript_config(public_path="/static/engage/"))["interpreter"]
        '/static/engage/pyodide/pyodide.mjs'
    """
    config = {
        "interpreter": (cdn or f"{public_path}pyodide/") + "pyodide.mjs",
        "files": {f"{public_path}engage_web.zip": "./*"},
        "plugins": ["!py-editor", "!py-terminal", "!py-game", "!donkey", "!codemirror"],
    }
    return (json.dumps(config, indent=2) + "\n").encode("utf-8")


def engine_files(package: Path) -> Iterator[tuple[str, Path]]:
    """Yield ``(archive name, path)`` for every engine file that belongs in the browser bundle.

    Python sources and data files (``.json``, ``.toml``) of ``engage_web`` that the layout says
    run in the browser (``tools/layout.py``: everything but the CPython wing and ``__main__``),
    without caches.
    """
    for path in sorted(package.rglob("*")):
        rel = path.relative_to(package).as_posix()
        if not path.is_file() or "__pycache__" in rel or path.suffix not in _ENGINE_SUFFIXES:
            continue
        if not runs_in_browser(rel):
            continue
        yield f"engage_web/{rel}", path


def engine_zip(package: Path) -> bytes:
    """The engine bundle as deterministic zip bytes (fixed timestamps, sorted entries), its files
    stored: the server's brotli copy of the whole zip is smaller than deflating each file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, path in engine_files(package):
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _write(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` unless it already holds exactly those bytes."""
    if target.exists() and target.stat().st_size == len(data) and target.read_bytes() == data:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)


def _copy(source: Path, target: Path) -> None:
    """Copy a file unless the target already has the same size and modification time."""
    src = source.stat()
    if target.exists():
        dst = target.stat()
        if dst.st_size == src.st_size and dst.st_mtime_ns == src.st_mtime_ns:
            return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
