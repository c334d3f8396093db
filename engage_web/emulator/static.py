"""Static files for the demo: correct types for the browser runtime and dev cache headers.

Pyodide needs ``.wasm`` served as ``application/wasm`` (streaming compile) and ES modules as
``text/javascript``; ``mimetypes`` varies between systems, so the types are fixed here. Cache:
files under ``pyodide/`` and ``pyscript/`` come from the pinned npm packages, so they are
versioned and cached for a year (``immutable``), and so is the memory snapshot, whose file name
carries the hash of what it was made from; everything else (pages, the engine bundle, the worker
that names the snapshot) is ``no-store`` so a rebuild shows at once::

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

__all__ = ["CONTENT_TYPES", "IMMUTABLE_PREFIXES", "StaticSite", "cache_control_for"]

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
#: Content-hashed file names (tools/snapshot.py): a new build gets a new name, never new bytes.
_HASHED = re.compile(r"^/engage-snapshot-[0-9a-f]{12}\.bin(\.gz)?$")


def cache_control_for(path: str) -> str:
    """The Cache-Control value for a URL path under the static root.

    >>> cache_control_for("/pyodide/pyodide.asm.wasm"), cache_control_for("/index.html")
    ('public, max-age=31536000, immutable', 'no-store')
    >>> cache_control_for("/engage-snapshot-773be2799e91.bin.gz")
    'public, max-age=31536000, immutable'
    """
    immutable = path.startswith(IMMUTABLE_PREFIXES) or _HASHED.match(path)
    return IMMUTABLE if immutable else "no-store"


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

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                ctype = _content_type_for(relative)
                drop = {b"cache-control"} | ({b"content-type"} if ctype else set())
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in drop]
                if ctype:
                    headers.append((b"content-type", ctype.encode()))
                headers.append((b"cache-control", cache_control_for(relative).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.files(scope, receive, send_wrapper)
