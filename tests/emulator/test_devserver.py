"""The demo server serves dist/ and the emulator on one origin, with the types Pyodide needs."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.emulator.conftest import VISITORS, TestClient, query, seed_body, visitor_path
from tools.devserver import ServerThread, create_dev_app

FILES = {
    "index.html": b"<!doctype html><title>demo</title>",
    "engine.js": b"export const x = 1;",
    "pyodide/pyodide.mjs": b"export {}",
    "pyodide/pyodide.asm.wasm": b"\0asm\1\0\0\0",
    "pyodide/python_stdlib.zip": b"PK\5\6" + b"\0" * 18,
    "pyodide/pyodide-lock.json": b"{}",
    "pyscript/core.js": b"export {}",
    "engage_web.zip": b"PK\5\6" + b"\0" * 18,
    "engage-snapshot-0123456789ab.bin.gz": b"\x1f\x8b" + b"\0" * 18,
    "engage-snapshot.json": b"{}",
    "big.bin": bytes(range(256)) * 12_000,  # 3 MB: several large chunks
    "api/not-the-emulator.txt": b"shadowed",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name, content in FILES.items():
        path = tmp_path / "dist" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return tmp_path


@pytest.fixture
def dev(root: Path) -> TestClient:
    return TestClient(create_dev_app(root))


@pytest.mark.parametrize(
    ("path", "content_type", "cache"),
    [
        ("/", "text/html", "no-store"),
        ("/index.html", "text/html", "no-store"),
        ("/engine.js", "text/javascript", "no-store"),
        ("/engage_web.zip", "application/zip", "no-store"),
        ("/pyodide/pyodide.mjs", "text/javascript", "immutable"),
        ("/pyodide/pyodide.asm.wasm", "application/wasm", "immutable"),
        ("/pyodide/python_stdlib.zip", "application/zip", "immutable"),
        ("/pyodide/pyodide-lock.json", "application/json", "immutable"),
        ("/pyscript/core.js", "text/javascript", "immutable"),
        ("/engage-snapshot-0123456789ab.bin.gz", "application/gzip", "immutable"),
        ("/engage-snapshot.json", "application/json", "no-store"),
    ],
)
def test_static_files_have_the_right_type_and_cache_policy(dev, path, content_type, cache):
    """Each file type gets the media type browsers require and the dev cache policy."""
    answer = dev.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].split(";")[0] == content_type
    assert cache in answer.headers["cache-control"]
    if path == "/pyodide/pyodide.asm.wasm":
        assert answer.headers["content-type"] == "application/wasm"
        assert "max-age=31536000" in answer.headers["cache-control"]


def test_a_large_file_arrives_whole_and_a_range_of_it_exactly(dev):
    """Files are sent in large chunks; the bytes, and a byte range across a chunk edge, are
    exactly the file's."""
    data = FILES["big.bin"]
    assert dev.get("/big.bin").content == data
    edge = (1 << 20) - 10
    part = dev.get("/big.bin", headers={"range": f"bytes={edge}-{edge + 19}"})
    assert part.status_code == 206
    assert part.content == data[edge : edge + 20]


def test_the_emulator_wins_over_files(dev):
    """Emulator paths are answered by the emulator even if dist/ holds a file there."""
    assert dev.post(VISITORS + query(), json=seed_body()).status_code == 200
    shadowed = dev.get("/api/not-the-emulator.txt")
    assert shadowed.status_code == 404
    assert shadowed.headers["content-type"] == "application/json"
    assert dev.get("/openapi.json").json()["openapi"] == "3.1.0"
    assert dev.get("/_emulator/state").status_code == 200


def test_emulator_routes_keep_405_next_to_static_files(dev):
    """The static mount does not swallow wrong-method calls to emulator routes."""
    answer = dev.get(visitor_path("v1") + query())
    assert answer.status_code == 405
    assert set(answer.headers["allow"].split(", ")) == {"POST", "PUT"}


def test_missing_files_answer_404(dev):
    """A file that is not in dist/ answers 404."""
    assert dev.get("/nope.js").status_code == 404


def test_without_dist_the_emulator_still_runs(tmp_path: Path):
    """Before the first build there is no dist/: pages 404, the emulator answers."""
    dev = TestClient(create_dev_app(tmp_path))
    assert dev.get("/").status_code == 404
    assert dev.post(VISITORS + query(), json=seed_body()).status_code == 200


def test_server_thread_serves_on_a_free_loopback_port_and_stops(root: Path):
    """ServerThread starts on a free port, serves real HTTP and frees the port on stop."""
    server = ServerThread(create_dev_app(root))
    base = server.start()
    try:
        assert base.startswith("http://127.0.0.1:")
        assert httpx.get(f"{base}/").text == FILES["index.html"].decode()
        assert httpx.post(f"{base}{VISITORS}{query()}", json=seed_body()).status_code == 200
    finally:
        server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base}/", timeout=2)


def test_two_server_threads_get_different_ports(root: Path):
    """Each ServerThread binds its own port, so parallel tests do not collide."""
    with ServerThread(create_dev_app(root)) as one, ServerThread(create_dev_app(root)) as two:
        assert one != two


@pytest.fixture
def compressed(root: Path) -> TestClient:
    """The dev app over a dist/ whose files have their brotli and gzip copies (as built)."""
    from tools.compress import compress_tree

    wasm = root / "dist" / "pyodide" / "pyodide.asm.wasm"
    wasm.write_bytes(b"\0asm\1\0\0\0" + b"wasm code " * 20_000)
    compress_tree(root / "dist", workers=1)
    return TestClient(create_dev_app(root))


@pytest.mark.parametrize(
    ("accept", "encoding"),
    [
        ("gzip, deflate, br, zstd", "br"),
        ("gzip", "gzip"),
        ("br;q=0, gzip;q=0.8", "gzip"),
        ("identity", None),
        ("", None),
    ],
)
def test_precompressed_copies_are_sent_by_accept_encoding(compressed, accept, encoding):
    """The build's .br/.gz copy the client accepts is sent with Content-Encoding, the original's
    type and cache policy, and Vary: Accept-Encoding; the decoded bytes are the file's."""
    import brotli

    answer = compressed.get(
        "/pyodide/pyodide.asm.wasm", headers={"accept-encoding": accept or "identity"}
    )
    assert answer.status_code == 200
    assert answer.headers.get("content-encoding") == encoding
    assert "Accept-Encoding" in answer.headers["vary"]
    assert answer.headers["content-type"] == "application/wasm"
    assert "immutable" in answer.headers["cache-control"]
    original = b"\0asm\1\0\0\0" + b"wasm code " * 20_000
    body = answer.content  # httpx decodes gzip; brotli is checked by hand
    if encoding == "br" and body != original:
        body = brotli.decompress(body)
    assert body == original
    if encoding is not None:
        assert int(answer.headers["content-length"]) < len(original) // 10


def test_files_without_copies_say_nothing_of_encodings(compressed):
    """A tiny file the build did not compress is sent as it is, varying on no encoding."""
    answer = compressed.get("/engine.js", headers={"accept-encoding": "br, gzip"})
    assert "content-encoding" not in answer.headers
    assert "Accept-Encoding" not in answer.headers.get("vary", "")


def test_a_stale_copy_is_never_sent(compressed, root: Path):
    """A file changed after the build (its copies now older) is sent as it is now."""
    import os

    wasm = root / "dist" / "pyodide" / "pyodide.asm.wasm"
    wasm.write_bytes(b"\0asm\1\0\0\0 changed")
    for suffix in (".br", ".gz"):
        copy = wasm.with_name(wasm.name + suffix)
        os.utime(copy, ns=(wasm.stat().st_mtime_ns - 10**9,) * 2)
    answer = compressed.get("/pyodide/pyodide.asm.wasm", headers={"accept-encoding": "br, gzip"})
    assert "content-encoding" not in answer.headers
    assert answer.content == b"\0asm\1\0\0\0 changed"
