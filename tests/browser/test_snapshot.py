"""The worker boots from the build's Pyodide memory snapshot, and falls back to a normal boot.

The snapshot is private, version-locked Pyodide API: whatever goes wrong with it (missing file,
another Pyodide build, corrupt or truncated bytes, a run table that does not fit, Pyodide's dense
form, which the worker does not read) must cost the visitor nothing but time, never an answer.
The shipped embed must boot from the build's snapshot; then each case serves a copy
of the shipped worker naming a snapshot file chosen by the case, written to a scratch directory
under ``dist/`` (a worker's own requests cannot be routed reliably). Every time
``getEngagement`` must still answer Available, and the worker must say how it booted.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import re
import shutil
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Probe
from tools.sparse_snapshot import dense

pytestmark = pytest.mark.browser

SECTIONS = ["Support", "English", "Other"]
BOOTED = re.compile(r"Python engine up in \d+ ms \((snapshot|normal) boot\)")
FALLBACK = "the memory snapshot could not be used"


@pytest.fixture(scope="session")
def snapshot_file(dist_dir: Path, browser: Any) -> tuple[Any, bytes]:
    """The build's snapshot (made once per engine and Pyodide version) and its raw bytes."""
    from tools.snapshot import SnapshotError, ensure_snapshot

    try:
        info = ensure_snapshot(dist_dir, browser=browser)
    except SnapshotError as exc:
        pytest.fail(f"the build could not make the memory snapshot: {exc}")
    return info, (dist_dir / info.file).read_bytes()


def _run_outside_memory(raw: bytes) -> bytes:
    """The sparse file with its first run moved past the end of the memory it describes."""
    start = struct.unpack_from("<I", raw, 4)[0]
    memory = struct.unpack_from("<I", raw, start + 4)[0]
    return raw[: start + 16] + struct.pack("<I", memory) + raw[start + 20 :]


def _other_build_id(raw: bytes) -> bytes:
    words = list(struct.unpack_from("<12I", raw))
    words[4] ^= 0xFFFFFFFF
    return struct.pack("<12I", *words) + raw[48:]


# The snapshot file each case serves, made from the build's raw snapshot (None: no file, 404).
CASES: dict[str, Callable[[bytes], bytes | None]] = {
    "the build's snapshot": lambda raw: gzip.compress(raw, 1),
    "missing (404)": lambda raw: None,
    "another Pyodide build id": lambda raw: gzip.compress(_other_build_id(raw), 1),
    "not gzip": lambda raw: b"\x00garbage" * 100,
    "not a snapshot": lambda raw: gzip.compress(b"\x00" * 4096),
    "truncated after a valid header": lambda raw: gzip.compress(raw[: len(raw) // 3], 1),
    "a run outside the memory": lambda raw: gzip.compress(_run_outside_memory(raw), 1),
    "Pyodide's dense form": lambda raw: gzip.compress(dense(raw), 1),
}
EXPECTED_BOOT = {name: "normal" for name in CASES} | {"the build's snapshot": "snapshot"}


@pytest.fixture
def variant_dir(dist_dir: Path) -> Iterator[Path]:
    """A scratch directory under dist/ (served by the test server), removed afterwards."""
    path = dist_dir / ".snapcheck"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir()
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_variant(where: Path, dist: Path, info: Any, raw: bytes, body: bytes | None) -> None:
    """engage.js and the worker, configured to boot from ``snapshot.bin`` next to them, with
    ``body`` as its gzip copy ``snapshot.bin.gz`` (``None``: neither file, so the server answers
    404). The raw file is written after its copy, so the server sends it raw (a copy older
    than its file is never sent), and the worker fetches and inflates the gzip copy itself: the
    path for hosts that do not compress."""
    from tools.bench import copy_worker

    if body is not None:
        (where / "snapshot.bin.gz").write_bytes(body)
        (where / "snapshot.bin").write_bytes(raw)
        gz = where / "snapshot.bin.gz"
        older = gz.stat().st_mtime_ns - 1_000_000_000
        os.utime(gz, ns=(older, older))
    named = dataclasses.replace(info, file=f"{where.name}/snapshot.bin")
    copy_worker(dist, where, "../", snapshot=named, hook=False)


def test_the_shipped_embed_boots_from_the_builds_snapshot(probe: Probe, dist_dir: Path):
    """The page as a site ships it (dist/ as built) boots the engine from the snapshot."""
    html = (
        "<!doctype html><meta charset='utf-8'><link rel='icon' href='data:,'>"
        "<script src='/engage.js' data-endpoint='/' data-account-id='demo'></script>"
    )
    page = probe.open(html)
    outcome = page.evaluate("(s) => ChatApi.getEngagement({consumerSections: s})", SECTIONS)
    assert outcome["status"] == "Available", outcome
    page.wait_for_function("true")   # one more round trip so the worker's console lines arrive
    booted = [m.group(1) for line in probe.console if (m := BOOTED.search(line))]
    assert booted == ["snapshot"], probe.console
    assert not [line for line in probe.console if FALLBACK in line]


@pytest.mark.parametrize("case", list(CASES))
def test_any_snapshot_problem_costs_a_normal_boot_never_the_answer(
    probe: Probe, dist_dir: Path, snapshot_file: tuple[Any, bytes], variant_dir: Path, case: str
):
    """Whatever the snapshot URL serves, the check answers Available; only the build's own
    snapshot is used, and every other case is announced with a warning, then booted normally."""
    info, raw = snapshot_file
    _write_variant(variant_dir, dist_dir, info, raw, CASES[case](raw))
    html = (
        "<!doctype html><meta charset='utf-8'><link rel='icon' href='data:,'>"
        "<script src='/.snapcheck/engage.js' data-endpoint='/' data-account-id='demo'></script>"
    )
    page = probe.open(html, path="/.snapcheck/page.html")
    outcome = page.evaluate("(s) => ChatApi.getEngagement({consumerSections: s})", SECTIONS)
    assert outcome["status"] == "Available", outcome
    page.wait_for_function("true")   # one more round trip so the worker's console lines arrive
    booted = [m.group(1) for line in probe.console if (m := BOOTED.search(line))]
    warned = [line for line in probe.console if FALLBACK in line]
    assert booted == [EXPECTED_BOOT[case]], probe.console
    if EXPECTED_BOOT[case] == "snapshot":
        assert not warned
    else:
        assert len(warned) == 1, probe.console
        assert warned[0].startswith("warning:"), warned
