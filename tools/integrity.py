"""Subresource Integrity (SRI) hashes of what the embed loads, and the tag that pins engage.js.

A browser given ``integrity="sha384-<base64 digest>"`` refuses a file whose bytes hash to
anything else. The page can pin ``engage.js`` that way (the ``<script>`` tag :func:`script_tag`
prints); the worker pins everything it fetches after itself with the hashes the build writes
into ``engage-config.mjs`` (:func:`worker_integrity`). The hash is over the file's bytes as
decoded by the browser, so gzip or brotli copies served with ``Content-Encoding`` need none of
their own::

    >>> sri(b"alert('Hello, world.');")
    'sha384-H8BRh8j48O9oYatfu5AZzq6A9RINhZO5H16dQZngK7T62em8MUt1FLm52t+eX6xO'
    >>> for attribute in script_tag("/engage-web/engage.js", sri(b"x")).split('" '):
    ...     print(attribute)
    <script src="/engage-web/engage.js
    integrity="sha384-11LCxR+6DimqGQVwqdQlPkQHegWNMpf6OlYw1b0BJiL5fCisrtMTtcg7uZDKp9qF
    crossorigin="anonymous
    data-account-id="12345678"></script>
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from pathlib import Path

__all__ = ["ALGORITHM", "script_tag", "sri", "sri_file", "worker_integrity"]

#: The hash function of every SRI value here: the strongest one all browsers accept for SRI.
ALGORITHM = "sha384"


def sri(data: bytes) -> str:
    """The SRI value of ``data``: ``"sha384-"`` and the base64 of its SHA-384 digest.

    >>> sri(b"")[:20]
    'sha384-OLBgp1GsljhM2'
    """
    digest = hashlib.new(ALGORITHM, data).digest()
    return f"{ALGORITHM}-{base64.b64encode(digest).decode('ascii')}"


def sri_file(path: Path) -> str:
    """The SRI value of the file at ``path`` (read in chunks: the runtime has 10 MB files).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as f:
    ...     _ = f.write(b"x"); f.flush()
    ...     sri_file(Path(f.name)) == sri(b"x")
    True
    """
    digest = hashlib.new(ALGORITHM)
    with Path(path).open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return f"{ALGORITHM}-{base64.b64encode(digest.digest()).decode('ascii')}"


def worker_integrity(out: Path, files: Iterable[str]) -> dict[str, str]:
    """``{"./<file>": sri}`` for each of ``files`` (paths relative to ``out``, where the worker
    is): the ``integrity`` entry of ``engage-config.mjs``. Files that do not exist are left out
    (the worker then fetches them unchecked); the keys are sorted so the config is stable.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = (Path(d) / "engage_web.zip").write_bytes(b"zip")
    ...     worker_integrity(Path(d), ["engage_web.zip", "pyodide/missing.wasm"])
    {'./engage_web.zip': 'sha384-...'}
    """
    found = {name: Path(out) / name for name in files}
    return {f"./{name}": sri_file(path) for name, path in sorted(found.items()) if path.is_file()}


def script_tag(
    src: str, integrity: str, *, account_id: str = "12345678", extra: str = ""
) -> str:
    """The one-tag embed pinned by Subresource Integrity.

    ``crossorigin="anonymous"`` makes the browser fetch ``engage.js`` in CORS mode, which SRI
    needs when the file comes from another origin (a CDN or a static host, which must then send
    ``Access-Control-Allow-Origin``); on the page's own origin it changes nothing. ``extra``: more
    attributes, written as given (e.g. ``'data-domain-api="."'``).

    >>> script_tag("/e.js", "sha384-abc", account_id="demo", extra='data-debug')
    '<script src="/e.js" integrity="sha384-abc" crossorigin="anonymous" data-account-id="demo" ...'
    """
    attributes = [
        f'src="{html.escape(src)}"',
        f'integrity="{html.escape(integrity)}"',
        'crossorigin="anonymous"',
        f'data-account-id="{html.escape(account_id)}"',
    ]
    if extra:
        attributes.append(extra)
    return f"<script {' '.join(attributes)}></script>"
