"""tools/snapshot.py without a browser: build ids, the snapshot's key, the worker edits."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from tools.snapshot import (
    MANIFEST,
    SnapshotError,
    SnapshotInfo,
    load_manifest,
    pyodide_build_id,
    snapshot_build_id,
    snapshot_key,
)
from tools.worker_config import worker_config

ROOT = Path(__file__).resolve().parents[2]
MAGIC = 1886286592
BUILD_ID = "990c3b51a9722d62434de2bbc9643732658d488c1b6d467f22c1b6beba80d497"


def header(build_id: str = BUILD_ID, magic: int = MAGIC) -> bytes:
    words = [int(build_id[i : i + 8], 16) for i in range(0, 64, 8)]
    return struct.pack("<12I", magic, 64, 2, 0, *words) + b"{}" + bytes(14)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (header(), BUILD_ID),
        (header("0" * 63 + "1"), "0" * 63 + "1"),
        (header(magic=1), SnapshotError),
        (header()[:40], SnapshotError),
        (b"", SnapshotError),
    ],
    ids=["pinned", "other", "bad-magic", "short", "empty"],
)
def test_snapshot_build_id_reads_the_header_or_refuses_what_is_no_snapshot(data, expected):
    """The build id is the header's eight little-endian words as hex; other bytes are refused."""
    if expected is SnapshotError:
        with pytest.raises(SnapshotError, match="snapshot"):
            snapshot_build_id(data)
    else:
        assert snapshot_build_id(data) == expected


def test_the_pinned_pyodide_names_its_build_id(tmp_path: Path):
    """pyodide.mjs carries the build id a snapshot must match; a file without one is refused."""
    pinned = ROOT / "node_modules" / "pyodide" / "pyodide.mjs"
    if not pinned.exists():
        pytest.skip("node_modules is not installed (python3 build.py build)")
    assert pyodide_build_id(pinned) == BUILD_ID
    other = tmp_path / "pyodide.mjs"
    other.write_text("export const version = '1';")
    with pytest.raises(SnapshotError, match="no BUILD_ID"):
        pyodide_build_id(other)


def fake_dist(tmp_path: Path, build_id: str = BUILD_ID, engine: bytes = b"zip-1") -> Path:
    (tmp_path / "pyodide").mkdir(exist_ok=True)
    (tmp_path / "pyodide" / "pyodide.mjs").write_text(f'x={{BUILD_ID:"{build_id}"}}')
    (tmp_path / "engage_web.zip").write_bytes(engine)
    return tmp_path


@pytest.mark.parametrize(
    ("change", "same"),
    [
        ({}, True),
        ({"engine": b"zip-2"}, False),
        ({"build_id": "f" * 64}, False),
    ],
    ids=["nothing", "engine", "pyodide"],
)
def test_the_snapshot_key_changes_with_the_engine_or_pyodide(tmp_path: Path, change, same):
    """A new engine bundle or another Pyodide build gives a new key (so a new snapshot)."""
    before = snapshot_key(fake_dist(tmp_path))
    after = snapshot_key(fake_dist(tmp_path, **change))
    assert (before == after) is same


def test_a_manifest_counts_only_while_its_key_is_current_and_its_file_exists(tmp_path: Path):
    """load_manifest gives the recorded snapshot, or None once it is stale or its file is gone."""
    dist = fake_dist(tmp_path)
    info = SnapshotInfo("engage-snapshot-x.bin.gz", snapshot_key(dist), BUILD_ID, 10, 5, 1.0)
    (dist / MANIFEST).write_text(json.dumps(info.__dict__))
    assert load_manifest(dist) is None  # no file yet
    (dist / info.file).write_bytes(b"x")
    assert load_manifest(dist) == info
    fake_dist(tmp_path, engine=b"zip-2")
    assert load_manifest(dist) is None  # the engine changed


WORKER = (ROOT / "static" / "engage-worker.mjs").read_text(encoding="utf-8")


def test_the_worker_source_learns_its_snapshot_from_the_config_and_keeps_the_normal_boot():
    """The shipped worker names no snapshot itself (engage-config.mjs does), checks the build
    id, falls back to a normal boot, and re-seeds random after a restore."""
    assert 'import BUILD from "./engage-config.mjs";' in WORKER
    assert "const SNAPSHOT = BUILD.snapshot;" in WORKER
    assert "startPyodide(loadPyodide, createPyodideModule, snapshot)" in WORKER
    assert "return loadPyodide({ ...pyodideOptions(), ...factory });" in WORKER  # the fallback
    assert "random.seed()" in WORKER


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        (None, '"snapshot": null'),
        (
            SnapshotInfo("s.bin.gz", "k", "ab", 10, 5, 1.0),
            '"snapshot": {\n    "file": "s.bin.gz",\n    "buildId": "ab",\n    "bytes": 10\n  }',
        ),
    ],
    ids=["none", "named"],
)
def test_the_config_names_the_snapshot_file_and_build_id_or_null(info, expected):
    """The build's engage-config.mjs: the file (relative to the worker) and build id, or null."""
    config = worker_config(snapshot=info.for_worker() if info else None).decode()
    assert expected in config
    assert config.count('"snapshot"') == 1
