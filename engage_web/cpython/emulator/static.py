"""Static files for the demo: correct types, precompressed copies, and cache headers.

Pyodide needs ``.wasm`` served as ``application/wasm`` (streaming compile) and ES modules as
``text/javascript``; ``mimetypes`` varies between systems, so the types are fixed here. Cache:
files under ``pyodide/`` and ``pyscript/`` come from the pinned npm packages, so they are
versioned and cached for a year (``immutable``), and so is the memory snapshot, whose file name
carries the hash of what it was made from; everything else (pages, the engine bundle, the worker
that names the snapshot) is ``no-store`` so a rebuild shows at once.

Compression: the build writes ``<file>.br`` and ``<file>.gz`` next to every file worth it
(``tools/compress.py``); a request whose ``Accept-Encoding`` allows one gets that copy, with
``Content-Encoding`` and the original's type, and every answer for such a file says
``Vary: Accept-Encoding`` so a cache keeps the encodings apart. A copy older than its original
(the file was changed after the build) is never sent::

    app = StaticSite(Path("dist"))      # an ASGI app; "/" serves dist/index.html
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

__all__ = [
    "CONTENT_TYPES",
    "IMMUTABLE_PREFIXES",
    "PRECOMPRESSED",
    "StaticSite",
    "cache_control_for",
    "choose_encoding",
]

CONTENT_TYPES = {
    ".wasm": "application/wasm",
    ".mjs": "text/javascript; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".zip": "application/zip",
    ".json": "application/json",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".py": "text/x-python; charset=utf-8",
    ".toml": "application/toml",
    ".map": "application/json",
    ".svg": "image/svg+xml",
    ".whl": "application/zip",
    ".tar": "application/x-tar",
    ".bin": "application/octet-stream",
    ".gz": "application/gzip",  # served as is (no Content-Encoding): the page decompresses it
    ".ts": "text/plain; charset=utf-8",  # TypeScript declarations (.d.ts), not MPEG streams
}
IMMUTABLE_PREFIXES = ("/pyodide/", "/pyscript/")
IMMUTABLE = "public, max-age=31536000, immutable"
#: Content-hashed file names (tools/snapshot.py, tools/stdlib.py): a new build gets a new name,
#: never new bytes.
_HASHED = re.compile(
    r"^/(engage-snapshot-[0-9a-f]{12}\.bin(\.gz)?|engage-stdlib-[0-9a-f]{12}\.zip)$"
)


def cache_control_for(path: str) -> str:
    """The Cache-Control value for a URL path under the static root.

    >>> cache_control_for("/pyodide/pyodide.asm.wasm"), cache_control_for("/index.html")
    ('public, max-age=31536000, immutable', 'no-store')
    >>> cache_control_for("/engage-snapshot-773be2799e91.bin")
    'public, max-age=31536000, immutable'
    >>> cache_control_for("/engage-stdlib-c13eb739949c.zip")
    'public, max-age=31536000, immutable'
    """
    immutable = path.startswith(IMMUTABLE_PREFIXES) or _HASHED.match(path)
    return IMMUTABLE if immutable else "no-store"


#: Precompressed copies the build writes, best first: file suffix and Content-Encoding.
PRECOMPRESSED = ((".br", "br"), (".gz", "gzip"))


def choose_encoding(accept_encoding: str | None, available: tuple[str, ...]) -> str | None:
    """The ``Content-Encoding`` to send, among ``available`` (best first), that the client's
    ``Accept-Encoding`` allows; ``None`` for the identity. ``q=0`` refuses a coding, ``*``
    stands for the ones not named::

        >>> choose_encoding("gzip, deflate, br, zstd", ("br", "gzip"))
        'br'
        >>> choose_encoding("br;q=0, gzip;q=0.5", ("br", "gzip")), choose_encoding("", ("br",))
        ('gzip', None)
    """
    weights: dict[str, float] = {}
    for part in (accept_encoding or "").lower().split(","):
        name, _, params = part.strip().partition(";")
        if not name.strip():
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[name.strip()] = q
    best, best_q = None, 0.0
    for coding in available:
        q = weights.get(coding, weights.get("*", 0.0))
        if q > best_q:
            best, best_q = coding, q
    return best


def _fresh_copy(copy: Path, original_mtime_ns: int) -> bool:
    """A compressed copy is used only when it is not older than its original: a file changed
    after the build (by hand, by a deploy script) is sent as it is now, never a stale copy."""
    try:
        return copy.stat().st_mtime_ns >= original_mtime_ns
    except OSError:
        return False


def _content_type_for(path: str) -> str | None:
    name = path.rsplit("/", 1)[-1]
    if not name or path.endswith("/"):
        return CONTENT_TYPES[".html"]
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return CONTENT_TYPES.get(suffix)


#: Bytes per read and send. Starlette's 64 KiB default costs a thread hop per chunk (~150 for the
#: 9.6 MB wasm): measured here, 80-110 ms to send it on loopback against 25-28 ms with 1 MiB.
CHUNK_BYTES = 1 << 20


class _LargeChunkFiles(StaticFiles):
    """StaticFiles whose file answers are read and sent in :data:`CHUNK_BYTES` chunks."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        if isinstance(response, FileResponse):
            response.chunk_size = CHUNK_BYTES
        return response


class StaticSite:
    """Serve ``directory`` (``html=True``: ``/`` gives ``index.html``) with fixed types."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.files = _LargeChunkFiles(directory=self.directory, html=True, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        relative = scope.get("path", "/")  # mounted at "/": the URL path is the file path
        if not self.directory.is_dir():
            raise HTTPException(
                404, f"not found: {relative} ({self.directory} does not exist; build it first)"
            )

        encoding, served = self._precompressed(scope, relative)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                ctype = _content_type_for(relative)
                drop = {b"cache-control", b"content-encoding", b"vary"}
                drop |= {b"content-type"} if ctype else set()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in drop]
                if ctype:
                    headers.append((b"content-type", ctype.encode()))
                headers.append((b"cache-control", cache_control_for(relative).encode()))
                if served is not None:
                    headers.append((b"vary", b"Accept-Encoding"))
                if encoding is not None:
                    headers.append((b"content-encoding", encoding.encode()))
                message = {**message, "headers": headers}
            await send(message)

        if encoding is not None:
            scope = {**scope, "path": served, "raw_path": served.encode()}
        await self.files(scope, receive, send_wrapper)

    def _precompressed(self, scope: Scope, relative: str) -> tuple[str | None, str | None]:
        """The encoding to send and the path of its copy, when the build made copies of this
        file: ``(None, relative)`` when the client takes none of them, ``(None, None)`` when
        there are none."""
        if relative.endswith("/") or ".." in relative:
            return None, None
        target = self.directory / relative.lstrip("/")
        try:
            changed = target.stat().st_mtime_ns
        except OSError:
            return None, None
        copies = tuple(
            (suffix, coding)
            for suffix, coding in PRECOMPRESSED
            if _fresh_copy(target.with_name(target.name + suffix), changed)
        )
        if not copies:
            return None, None
        headers = dict(scope.get("headers") or [])
        accepted = headers.get(b"accept-encoding", b"").decode("latin-1")
        coding = choose_encoding(accepted, tuple(c for _, c in copies))
        if coding is None:
            return None, relative
        suffix = next(s for s, c in copies if c == coding)
        return coding, relative + suffix
