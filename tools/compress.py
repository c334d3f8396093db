"""Precompressed copies of ``dist/``: ``<file>.br`` and ``<file>.gz`` next to every file worth it.

A first visit downloads the whole runtime (Pyodide's wasm, its JS, the memory snapshot, the
engine). Compressing on every request would cost the server seconds of CPU per visitor for the
big files at the best settings, so the build does it once: brotli at quality 11 (what browsers
decode fastest for the fewest bytes) and gzip at level 9 for clients without brotli. A static
server then picks the copy the ``Accept-Encoding`` header allows and sends it with
``Content-Encoding`` and ``Vary: Accept-Encoding`` (the demo server does, see
``engage_web/cpython/emulator/static.py``; the README shows nginx and CDN settings)::

    >>> worth_compressing(Path("pyodide.asm.wasm"), 9_598_218)
    True
    >>> worth_compressing(Path("favicon.png"), 20_000)   # an image is compressed already
    False

The work is cached: a copy is remade only when its source's bytes changed (the source's SHA-256
is kept in ``dist/.compressed.json``); copies of big files are also kept by content in a cache
folder shared by every build of the checkout (Pyodide's files are compressed once, not once per
``dist/``), and what is left to do runs in parallel processes.
A copy that saves less than :data:`MIN_SAVING` is not kept: sending the original costs the same.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

__all__ = ["ENCODINGS", "MANIFEST", "MIN_SAVING", "compress_tree", "worth_compressing"]

#: What the build writes, in the server's order of preference: suffix -> Content-Encoding.
ENCODINGS = {".br": "br", ".gz": "gzip"}
#: The cache of what was compressed: relative path -> SHA-256 of the source compressed.
MANIFEST = ".compressed.json"
#: The smallest saving (a fraction of the original) a compressed copy must bring to be kept.
MIN_SAVING = 0.05
#: Files smaller than this are sent as they are (a request costs more than the bytes saved).
MIN_BYTES = 1024
#: Types that compress (text, wasm, the raw memory snapshot, zips that store their files);
#: a zip that deflates its files, or an image, saves too little and keeps no copy.
COMPRESSIBLE = frozenset(
    {".wasm", ".js", ".mjs", ".json", ".html", ".css", ".svg", ".map", ".ts", ".txt", ".bin",
     ".py", ".toml", ".md", ".zip"}
)
#: Brotli's best quality, with the largest window browsers accept (16 MiB).
BROTLI_QUALITY = 11
BROTLI_WINDOW = 24


def worth_compressing(path: Path, size: int) -> bool:
    """True for a file of a compressible type and at least :data:`MIN_BYTES` long."""
    return size >= MIN_BYTES and path.suffix.lower() in COMPRESSIBLE


def _compress(source: str) -> tuple[str, dict[str, bytes]]:
    """The brotli and gzip copies of one file (run in a worker process)."""
    import brotli

    data = Path(source).read_bytes()
    return source, {
        ".br": brotli.compress(data, quality=BROTLI_QUALITY, lgwin=BROTLI_WINDOW),
        ".gz": gzip.compress(data, compresslevel=9, mtime=0),
    }


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _candidates(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name == MANIFEST or path.suffix in ENCODINGS:
            continue
        if worth_compressing(path, path.stat().st_size):
            yield path


def compress_tree(
    root: Path, *, cache: Path | None = None, workers: int | None = None
) -> dict[str, dict[str, int]]:
    """Write (or keep) the ``.br``/``.gz`` copies of every file under ``root`` worth it.

    ``cache``: a folder keeping the copies of files of :data:`CACHE_MIN_BYTES` or more by the
    SHA-256 of their content. Returns ``{relative path: {"raw": n, ".br": n, ".gz": n}}`` for
    the files that have copies. Copies whose source is gone, or no longer worth compressing,
    are removed; only copies this function wrote (listed in the manifest) are ever removed.
    """
    root = Path(root)
    manifest_path = root / MANIFEST
    try:
        done: dict[str, dict[str, object]] = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        done = {}
    wanted: dict[str, dict[str, object]] = {}
    todo: list[Path] = []
    for path in _candidates(root):
        rel = path.relative_to(root).as_posix()
        digest = _digest(path)
        before = done.get(rel) or {}
        kept = before.get("kept") if isinstance(before.get("kept"), list) else None
        intact = kept is not None and all(
            path.with_name(path.name + str(s)).exists() for s in kept
        )
        if before.get("sha256") == digest and intact:
            wanted[rel] = before
            _touch_copies(path, kept or [])   # the same bytes rewritten: the copies still hold
            continue
        wanted[rel] = {"sha256": digest}
        cached = _from_cache(cache, digest, path)
        if cached is not None:
            wanted[rel]["kept"] = _keep_worthwhile(path, cached)
        else:
            todo.append(path)
    if todo:
        big_first = sorted(todo, key=lambda p: p.stat().st_size, reverse=True)
        count = workers or min(len(big_first), os.cpu_count() or 1)
        with ProcessPoolExecutor(max_workers=max(1, count)) as pool:
            for source, copies in pool.map(_compress, [str(p) for p in big_first]):
                rel = Path(source).relative_to(root).as_posix()
                wanted[rel]["kept"] = _keep_worthwhile(Path(source), copies)
                _to_cache(cache, str(wanted[rel]["sha256"]), Path(source), copies)
    for rel, entry in done.items():
        if rel not in wanted:
            for suffix in entry.get("kept") or ():
                (root / f"{rel}{suffix}").unlink(missing_ok=True)
    text = json.dumps(wanted, indent=1, sort_keys=True) + "\n"
    if not manifest_path.exists() or manifest_path.read_text() != text:
        manifest_path.write_text(text)
    return _sizes(root, wanted)


#: Files at least this big have their copies kept in the shared cache (compressing them costs
#: seconds; the small ones cost less than the cache's bookkeeping).
CACHE_MIN_BYTES = 256 * 1024


def _from_cache(cache: Path | None, digest: str, path: Path) -> dict[str, bytes] | None:
    if cache is None or path.stat().st_size < CACHE_MIN_BYTES:
        return None
    copies = {s: cache / f"{digest}{s}" for s in ENCODINGS}
    if not all(p.is_file() for p in copies.values()):
        return None
    return {s: p.read_bytes() for s, p in copies.items()}


def _to_cache(cache: Path | None, digest: str, path: Path, copies: dict[str, bytes]) -> None:
    if cache is None or path.stat().st_size < CACHE_MIN_BYTES:
        return
    cache.mkdir(parents=True, exist_ok=True)
    for suffix, data in copies.items():
        (cache / f"{digest}{suffix}").write_bytes(data)


def _touch_copies(source: Path, kept: list[str]) -> None:
    """Date the copies no earlier than their source, which servers check (a copy older than
    its file is taken for stale and not sent)."""
    changed = source.stat().st_mtime_ns
    for suffix in kept:
        copy = source.with_name(source.name + suffix)
        if copy.stat().st_mtime_ns < changed:
            os.utime(copy, ns=(changed, changed))


def _keep_worthwhile(source: Path, copies: dict[str, bytes]) -> list[str]:
    """Write the copies that save enough; remove the others; the suffixes kept."""
    size = source.stat().st_size
    kept = []
    for suffix, data in copies.items():
        target = source.with_name(source.name + suffix)
        if len(data) <= size * (1 - MIN_SAVING):
            target.write_bytes(data)
            kept.append(suffix)
        else:
            target.unlink(missing_ok=True)
    return kept


def _sizes(root: Path, files: Iterable[str]) -> dict[str, dict[str, int]]:
    sizes: dict[str, dict[str, int]] = {}
    for rel in files:
        path = root / rel
        entry = {"raw": path.stat().st_size}
        for suffix in ENCODINGS:
            copy = path.with_name(path.name + suffix)
            if copy.exists():
                entry[suffix] = copy.stat().st_size
        if len(entry) > 1:
            sizes[rel] = entry
    return sizes
