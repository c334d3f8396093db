"""tools.release and tools.integrity on small folders: what the npm package holds, and the
integrity hashes it ships, refusing a dist/ whose hashes went stale or that points at a CDN."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from tools.dist import loaded_by_worker
from tools.integrity import script_tag, sri, worker_integrity
from tools.release import EMBED_FILES, embed_files, npm_manifest
from tools.worker_config import CONFIG_FILE, read_worker_config, worker_config


def _dist(tmp_path: Path, *, cdn: str | None = None, stale: bool = False) -> Path:
    """A tiny dist/: the embed's files, an engine bundle and one Pyodide file, with a config
    that records their hashes (or a stale hash)."""
    dist = tmp_path / "dist"
    (dist / "pyodide").mkdir(parents=True)
    for name in ("engage.js", "engage.d.ts", "engage-worker.mjs"):
        (dist / name).write_text(f"// {name}\n")
    (dist / "engage_web.zip").write_bytes(b"engine")
    (dist / "pyodide" / "pyodide.asm.wasm").write_bytes(b"\0asm")
    (dist / "pyodide" / "pyodide.asm.wasm.br").write_bytes(b"brotli copy")
    integrity = worker_integrity(dist, ["engage_web.zip", "pyodide/pyodide.asm.wasm"])
    if stale:
        integrity["./engage_web.zip"] = sri(b"the engine of another build")
    (dist / CONFIG_FILE).write_bytes(
        worker_config(pyodide_base=cdn or "./pyodide/", integrity=integrity)
    )
    return dist


def test_sri_is_the_base64_sha384_digest():
    """An SRI value is the algorithm, a dash and the base64 of the digest (as browsers check)."""
    data = b"engage-web"
    expected = base64.b64encode(hashlib.sha384(data).digest()).decode()
    assert sri(data) == f"sha384-{expected}"


def test_the_printed_tag_carries_integrity_and_crossorigin():
    """The tag pins engage.js and asks for CORS, so SRI also works from another origin."""
    tag = script_tag("https://static.example/e/engage.js", "sha384-x", account_id="42")
    assert tag == (
        '<script src="https://static.example/e/engage.js" integrity="sha384-x" '
        'crossorigin="anonymous" data-account-id="42"></script>'
    )


def test_the_worker_is_told_the_hash_of_every_file_it_loads(tmp_path: Path):
    """The build's config names a hash for the engine bundle, the snapshot and every Pyodide
    file the worker loads (self-hosted), matching the files."""
    dist = _dist(tmp_path)
    config = read_worker_config((dist / CONFIG_FILE).read_bytes())
    assert config["integrity"] == {
        "./engage_web.zip": sri(b"engine"),
        "./pyodide/pyodide.asm.wasm": sri(b"\0asm"),
    }
    assert "pyodide/pyodide.asm.wasm" in loaded_by_worker()
    assert "pyodide/package.json" not in loaded_by_worker()   # never loaded


def test_the_npm_package_is_the_embed_and_what_the_worker_loads(tmp_path: Path):
    """The package holds the embed's files and the worker's files (with precompressed copies),
    each with its SRI value; nothing else of dist/."""
    dist = _dist(tmp_path)
    (dist / "index.html").write_text("the demo")
    integrity, files = embed_files(dist)
    assert set(integrity) == {*EMBED_FILES, "engage_web.zip", "pyodide/pyodide.asm.wasm"}
    assert integrity["engage.js"] == sri(b"// engage.js\n")
    assert files == sorted([*integrity, "pyodide/pyodide.asm.wasm.br"])


def test_a_stale_config_stops_the_release(tmp_path: Path):
    """A hash in engage-config.mjs that no longer matches its file would make browsers refuse
    the file: the release stops and says to rebuild."""
    with pytest.raises(SystemExit, match=r"engage_web.zip does not match the hash"):
        embed_files(_dist(tmp_path, stale=True))


def test_a_cdn_build_is_not_packed(tmp_path: Path):
    """The npm package is self-hosted: a dist/ built with --cdn is refused."""
    with pytest.raises(SystemExit, match="built for a CDN"):
        embed_files(_dist(tmp_path, cdn="https://cdn.example/pyodide/"))


def test_the_npm_manifest_points_at_files_the_package_holds():
    """``types``, ``exports`` and ``files`` name the shipped dist/ files; no dependency."""
    manifest = npm_manifest("1.2.3")
    assert manifest["name"] == "engage-web"
    assert manifest["types"] == "./dist/engage.d.ts"
    assert manifest["exports"]["."] == {
        "types": "./dist/engage.d.ts", "default": "./dist/engage.js"
    }
    assert "dist/" in manifest["files"]
    assert "dependencies" not in manifest
    assert "scripts" not in manifest
