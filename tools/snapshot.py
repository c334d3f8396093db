"""Make, verify and describe the Pyodide memory snapshot the engage-web worker boots from.

Booting Pyodide costs seconds of CPU (wasm instantiation, Python start-up, compiling the stdlib's
``.py`` files); importing the engine costs more. A memory snapshot taken right after those steps
lets the worker skip them: ``loadPyodide({_loadSnapshot: bytes})`` restores the wasm memory.
The API is private and version-locked, so this module keeps it safe:

- the snapshot is made for the pinned Pyodide in a real browser worker (the host that restores
  it): headless system Chromium through Playwright, against ``dist/`` served on loopback;
- its header carries the Pyodide build id, checked here against ``dist/pyodide/pyodide.mjs``
  (and again by the worker before use, which falls back to a normal boot on any problem);
- it is regenerated whenever its key changes: the Pyodide build id, the engine bundle
  (``dist/engage_web.zip``), the recipe below (what is imported before the snapshot) and the
  file's form;
- the file name carries the key (``engage-snapshot-<key12>.bin``), so it can be cached for a
  year like the other versioned runtime files.

It is stored without its zero pages (``tools/sparse_snapshot.py``: 14 MB of the 31 MB Pyodide
writes) and otherwise uncompressed: the build writes brotli (3.8 MB) and gzip (5.6 MB) copies next
to it (``tools/compress.py``), which the server sends by ``Accept-Encoding`` and the browser
decodes as it downloads. Example::

    >>> from pathlib import Path
    >>> info = ensure_snapshot(Path("dist"))                    # doctest: +SKIP
    >>> info.file, info.build_id[:8], info.raw_bytes, info.file_bytes   # doctest: +SKIP
    ('engage-snapshot-3fa2c1d09b7e.bin', '990c3b51', 31458064, 14271416)
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import struct
import subprocess
import sys
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tools.chromium import CHROMIUM, launch
from tools.sparse_snapshot import sparse
from tools.stdlib import SURVEY, engine_import_names, stdlib_zip, survey_code, zip_name

__all__ = [
    "MANIFEST",
    "RECIPE",
    "SnapshotError",
    "SnapshotInfo",
    "ensure_snapshot",
    "load_manifest",
    "pyodide_build_id",
    "snapshot_build_id",
    "snapshot_key",
]

#: The manifest next to the snapshot in dist/: what it was made from (see SnapshotInfo).
MANIFEST = "engage-snapshot.json"

#: Python run in the worker before the snapshot is taken: what the first check needs, no more.
#: ``pyodide.http`` is imported here because the transport imports it on first use.
RECIPE = """
import sys
sys.path.insert(0, "/engage")
import asyncio, json, random
import pyodide.http
import engage_web.browser.worker
import engage_web.driver.api
import engage_web.core.retry
import engage_web.browser.pyfetch_transport
"""

#: The form the file is stored in (part of the key: a change of form makes a new file).
FORM = "sparse, 4 KiB pages, v1"

#: The magic number and header layout of Pyodide's snapshot format (pyodide.asm.mjs:
#: u32 magic, u32 memory offset, u32 JSON length, u32 0, 8 x u32 build id).
_MAGIC = 1886286592
_HEADER = struct.Struct("<12I")
_BUILD_ID_LINE = re.compile(r'BUILD_ID:"([0-9a-f]{64})"')

#: Bounds for making one snapshot (a cold Pyodide boot takes ~5-15 s on a busy 2-core machine).
MAKE_TIMEOUT_MS = 120_000



class SnapshotError(Exception):
    """A snapshot could not be made or does not belong to the pinned Pyodide."""


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot in ``dist/``: its file name, key, Pyodide build id, size as Pyodide wrote it
    (``raw_bytes``: header and whole memory), size of the file (``file_bytes``: the sparse
    form, ``tools/sparse_snapshot.py``), making time, and the trimmed library it was made with
    (``tools/stdlib.py``; the worker must boot with it)."""

    file: str
    key: str
    build_id: str
    raw_bytes: int
    file_bytes: int
    make_seconds: float
    stdlib: str | None = None

    def for_worker(self, prefix: str = "", *, gzip: bool = False) -> dict[str, Any]:
        """The worker's ``snapshot`` entry (``engage-config.mjs``): the file relative to the
        worker (``prefix`` + file), the build id it checks, the file's size (how the worker tells
        a server sending it raw) and, with ``gzip``, the build's gzip copy (``<file>.gz``), which
        the worker fetches instead when the server sends the file raw.

        >>> SnapshotInfo("s.bin", "k", "ab", 30, 10, 1.0).for_worker("../")
        {'file': '../s.bin', 'buildId': 'ab', 'bytes': 10}
        >>> SnapshotInfo("s.bin", "k", "ab", 30, 10, 1.0).for_worker(gzip=True)["gzip"]
        's.bin.gz'
        """
        entry = {"file": prefix + self.file, "buildId": self.build_id, "bytes": self.file_bytes}
        if gzip:
            entry["gzip"] = f"{prefix}{self.file}.gz"
        return entry


def pyodide_build_id(pyodide_mjs: Path) -> str:
    """The build id compiled into ``pyodide.mjs`` (what a snapshot must carry to load).

    Raises :class:`SnapshotError` when the file has none (another Pyodide layout).
    """
    match = _BUILD_ID_LINE.search(Path(pyodide_mjs).read_text(encoding="utf-8"))
    if match is None:
        raise SnapshotError(f"{pyodide_mjs}: no BUILD_ID found; is this Pyodide 314?")
    return match.group(1)


def snapshot_build_id(data: bytes) -> str:
    """The build id in a snapshot's header (Pyodide's form or the sparse one, which keeps that
    header first); :class:`SnapshotError` if it is no snapshot.

    >>> header = struct.pack("<12I", _MAGIC, 64, 2, 0, *range(1, 9))
    >>> snapshot_build_id(header + bytes(16))[:16]
    '0000000100000002'
    >>> try:
    ...     snapshot_build_id(b"nope" * 12)
    ... except SnapshotError as exc:
    ...     print(exc)
    not a Pyodide memory snapshot (bad magic number)
    """
    if len(data) < _HEADER.size:
        raise SnapshotError(f"not a Pyodide memory snapshot ({len(data)} bytes, header is 48)")
    fields = _HEADER.unpack_from(data)
    if fields[0] != _MAGIC:
        raise SnapshotError("not a Pyodide memory snapshot (bad magic number)")
    return "".join(f"{word:08x}" for word in fields[4:12])


def snapshot_key(dist: Path) -> str:
    """What the snapshot depends on, hashed: Pyodide's build id, the engine bundle, the recipe,
    the file's form."""
    digest = hashlib.sha256()
    digest.update(FORM.encode())
    digest.update(pyodide_build_id(dist / "pyodide" / "pyodide.mjs").encode())
    digest.update((dist / "engage_web.zip").read_bytes())
    digest.update(RECIPE.encode())
    digest.update(SURVEY.encode())
    return digest.hexdigest()


def load_manifest(dist: Path) -> SnapshotInfo | None:
    """The snapshot recorded in ``dist/engage-snapshot.json`` if it is current and present."""
    path = Path(dist) / MANIFEST
    try:
        info = SnapshotInfo(**json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None
    if info.key != snapshot_key(dist) or not (Path(dist) / info.file).is_file():
        return None
    if info.stdlib is not None and not (Path(dist) / info.stdlib).is_file():
        return None
    return info


def ensure_snapshot(dist: Path, *, force: bool = False, browser: Any = None) -> SnapshotInfo:
    """Make the snapshot for ``dist/`` unless a current one is there; return what is there.

    Needs ``dist/pyodide/`` and ``dist/engage_web.zip`` (``tools.dist.build``) and
    ``/usr/bin/chromium``. Raises :class:`SnapshotError` with the reason when it cannot be made
    or its build id is not the pinned Pyodide's; the build then ships without a snapshot and the
    worker boots normally. ``browser``: a Playwright (sync) Chromium to use instead of launching
    one (callers that already run Playwright, such as the test suite, must pass theirs).
    """
    dist = Path(dist)
    if not force:
        current = load_manifest(dist)
        if current is not None:
            return current
    if browser is None and _inside_event_loop():
        return _ensure_in_subprocess(dist, force=force)
    key = snapshot_key(dist)
    expected = pyodide_build_id(dist / "pyodide" / "pyodide.mjs")
    started = time.monotonic()
    files, missing = survey_stdlib(dist, browser=browser)
    if missing:
        print(f"[snapshot] not in Pyodide's library (guarded imports): {', '.join(missing)}")
    library = stdlib_zip(files)
    stdlib = zip_name(library)
    for old in dist.glob("engage-stdlib-*.zip*"):
        if not old.name.startswith(stdlib):
            old.unlink()
    if not (dist / stdlib).is_file() or (dist / stdlib).read_bytes() != library:
        (dist / stdlib).write_bytes(library)   # its name is its hash: same name, same bytes
    raw = make_snapshot_bytes(dist, stdlib=stdlib, browser=browser)
    seconds = time.monotonic() - started
    found = snapshot_build_id(raw)
    if found != expected:
        raise SnapshotError(f"snapshot build id {found} is not the pinned Pyodide's {expected}")
    name = f"engage-snapshot-{key[:12]}.bin"
    for old in dist.glob("engage-snapshot-*.bin*"):
        if not old.name.startswith(name):  # the previous snapshot and its compressed copies
            old.unlink()
    stored = sparse(raw)
    (dist / name).write_bytes(stored)
    info = SnapshotInfo(name, key, found, len(raw), len(stored), round(seconds, 2), stdlib)
    (dist / MANIFEST).write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
    return info


def _inside_event_loop() -> bool:
    """True under a running asyncio loop (Playwright's sync API cannot start there)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _ensure_in_subprocess(dist: Path, *, force: bool) -> SnapshotInfo:
    """Run ``python -m tools.snapshot`` in a child process and read back its manifest."""
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-m", "tools.snapshot", str(Path(dist).resolve())]
    done = subprocess.run(
        [*command, *(["--force"] if force else [])],
        cwd=root, capture_output=True, text=True, timeout=MAKE_TIMEOUT_MS / 1000 + 60,
    )
    info = load_manifest(dist)
    if done.returncode or info is None:
        raise SnapshotError(f"making the snapshot in a subprocess failed: {done.stderr[-600:]}")
    return info



# -- making the snapshot in a browser worker -------------------------------------------------

_MAKER_PAGE = """<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<title>engage-web snapshot maker</title>
<script>
  window.snapshotResult = null;
  const worker = new Worker("/__snapshot/JOB.mjs", {type: "module"});
  worker.onmessage = (event) => { window.snapshotResult = event.data; };
  worker.onerror = (event) => { window.snapshotResult = {error: String(event.message)}; };
</script>"""

# Both jobs boot Pyodide in a module worker (the host the snapshot is restored in), unpack the
# engine, run Python, and upload what they made. OPTIONS and RUN are filled in per job.
_MAKER_WORKER = """
import { loadPyodide } from "/pyodide/pyodide.mjs";
try {
  const engine = fetch("/engage_web.zip").then((r) => r.arrayBuffer());
  const pyodide = await loadPyodide({ indexURL: "/pyodide/", ...OPTIONS });
  pyodide.unpackArchive(await engine, "zip", { extractDir: "/engage" });
  const body = await RUN;
  const answer = await fetch("/__snapshot/upload", { method: "PUT", body });
  postMessage({ ok: answer.ok, bytes: body.length });
} catch (error) {
  postMessage({ error: String(error && (error.stack || error)) });
}
"""


def _job_source(job: str, stdlib: str | None, names: set[str]) -> str:
    """The maker worker of ``job``: ``survey`` (full library, :data:`tools.stdlib.SURVEY`) or
    ``snapshot`` (the trimmed library ``stdlib``, :data:`RECIPE`, the memory snapshot)."""
    if job == "survey":
        options = "{}"
        run = f"pyodide.runPythonAsync({json.dumps(survey_code(names))})"
    else:
        options = json.dumps({"_makeSnapshot": True, **({"stdLibURL": f"/{stdlib}"} if stdlib
                                                        else {})})
        run = f"(pyodide.runPython({json.dumps(RECIPE)}), pyodide.makeMemorySnapshot())"
    return _MAKER_WORKER.replace("OPTIONS", options).replace("RUN", run)


def _maker_app(dist: Path, source: str, received: dict[str, bytes]) -> Any:
    """``dist/`` plus the maker page, its worker and an upload route, as one Starlette app."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse, Response
    from starlette.routing import Mount, Route

    from engage_web.cpython.emulator.static import StaticSite

    async def page(request: Request) -> Response:
        return HTMLResponse(_MAKER_PAGE.replace("JOB", "maker"))

    async def worker(request: Request) -> Response:
        return Response(source, media_type="text/javascript")

    async def upload(request: Request) -> Response:
        received["body"] = await request.body()
        return JSONResponse({"bytes": len(received["body"])})

    async def ping(request: Request) -> Response:
        return JSONResponse({"pong": True})

    return Starlette(
        routes=[
            Route("/__snapshot/make.html", page),
            Route("/__snapshot/maker.mjs", worker),
            Route("/__snapshot/upload", upload, methods=["PUT"]),
            Route("/__snapshot/ping", ping),
            Mount("/", app=StaticSite(dist)),
        ]
    )


def _run_job(dist: Path, source: str, browser: Any = None) -> bytes:
    """Run one maker worker in headless Chromium against ``dist/``; what it uploaded.

    ``browser``: an already launched Playwright (sync) browser; by default the system Chromium
    is launched for this and closed afterwards.
    """
    from tools.devserver import ServerThread

    received: dict[str, bytes] = {}
    with ServerThread(_maker_app(Path(dist), source, received)) as base:
        if browser is not None:
            result = _run_maker(browser, base)
        else:
            if not CHROMIUM.exists():
                raise SnapshotError(f"{CHROMIUM} is missing: install the Debian package 'chromium'")
            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                launched = launch(pw)
                try:
                    result = _run_maker(launched, base)
                finally:
                    launched.close()
    if result.get("error") or "body" not in received:
        raise SnapshotError(f"the snapshot maker failed in the browser: {result.get('error')}")
    return received["body"]


def survey_stdlib(dist: Path, *, browser: Any = None) -> tuple[dict[str, str], list[str]]:
    """The library modules the engine loads (path in the zip -> source without docstrings),
    and the imported names Pyodide does not have, found in headless Chromium."""
    with zipfile.ZipFile(Path(dist) / "engage_web.zip") as bundle:
        sources = {n: bundle.read(n).decode("utf-8") for n in bundle.namelist()
                   if n.endswith(".py")}
    names = engine_import_names(sources) | {"pyodide.http", "pyodide.ffi"}
    found = json.loads(_run_job(dist, _job_source("survey", None, names), browser))
    return found["files"], found["missing"]


def make_snapshot_bytes(dist: Path, *, stdlib: str | None = None, browser: Any = None) -> bytes:
    """Boot Pyodide in a worker of headless Chromium with the library ``stdlib`` (a file in
    ``dist/``; None: Pyodide's own), run :data:`RECIPE`, return the snapshot."""
    return _run_job(dist, _job_source("snapshot", stdlib, set()), browser)


def _run_maker(browser: Any, base: str) -> dict[str, Any]:
    from playwright.sync_api import Error as PlaywrightError

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{base}/__snapshot/make.html")
        try:
            page.wait_for_function("window.snapshotResult !== null", timeout=MAKE_TIMEOUT_MS)
        except PlaywrightError as exc:
            raise SnapshotError(f"the snapshot maker did not finish: {exc}") from None
        return page.evaluate("window.snapshotResult")
    finally:
        context.close()


def main() -> None:  # pragma: no cover - a manual entry point
    """``python -m tools.snapshot [dist] [--force]``: make (or confirm) the snapshot, print it."""
    args = [a for a in sys.argv[1:] if a != "--force"]
    dist = Path(args[0] if args else "dist")
    try:
        info = ensure_snapshot(dist, force="--force" in sys.argv)
    except SnapshotError as exc:
        sys.exit(f"[snapshot] {exc}")
    print(json.dumps(asdict(info), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
