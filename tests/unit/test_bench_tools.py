"""tools/bench.py's building blocks: statistics, the bench scenario, byte counting, load generator.

Figures are benchmarks' business; these tests only check that the tools count what they claim.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tools.bench import (
    ENGAGEMENT_URL,
    MINIMAL_PATH,
    ByteCounter,
    bench_scenario,
    copy_worker,
    load_generate,
    settle_browser,
    summarize,
    throughput_app,
)
from tools.snapshot import SnapshotInfo

ROOT = Path(__file__).resolve().parents[2]
BODY = {"appType": "EXTERNAL", "consumerSections": ["Support", "English", "Other"]}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([5], {"n": 1, "median": 5, "min": 5, "max": 5, "p95": 5}),
        ([4, 1, 3, 2], {"n": 4, "median": 2.5, "min": 1, "max": 4, "p25": 1.75, "p75": 3.25}),
        ([None, 2, None], {"n": 1, "median": 2}),
        ([], {"n": 0, "median": None, "max": None}),
    ],
    ids=["one", "four", "with-failures", "none"],
)
def test_summarize_gives_median_and_spread_of_the_runs_that_produced_a_value(values, expected):
    """Runs without a value (failed) are left out; no value at all gives None, not an error."""
    summary = summarize(values)
    assert {k: summary[k] for k in expected} == expected


def test_the_bench_scenario_answers_available_on_the_first_check():
    """Every variant makes exactly one request: no warm-up NotAvailable in the bench scenario."""
    from engage_web.cpython.emulator.app import create_app

    client = TestClient(create_app(bench_scenario()))
    answer = client.post(ENGAGEMENT_URL, json=BODY)
    assert (answer.status_code, answer.json()["status"]) == (200, "Available")


def test_the_byte_counter_counts_each_answer_body_and_headers():
    """Bytes sent are counted per answer (body plus headers) and reset between runs."""
    counter = ByteCounter(throughput_app())
    client = TestClient(counter)
    answer = client.post(MINIMAL_PATH, json=BODY)
    assert counter.requests == 1
    assert counter.bytes > len(answer.content)
    counter.reset()
    assert (counter.requests, counter.bytes) == (0, 0)


def test_the_load_generator_sends_exactly_the_requested_count_over_keep_alive():
    """total requests are sent and answered (statuses counted) over a few reused connections."""
    from tools.devserver import ServerThread

    with ServerThread(throughput_app()) as base:
        port = int(base.rsplit(":", 1)[1])
        body = b'{"appType": "EXTERNAL", "consumerSections": ["Support"]}'
        request = (
            f"POST {ENGAGEMENT_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        result = asyncio.run(
            load_generate("127.0.0.1", port, request, total=60, concurrency=4, time_limit=60)
        )
    assert (result.requests, result.errors, result.statuses) == (60, 0, {200: 60})
    assert len(result.latencies_ms) == 60


def test_the_load_generator_only_targets_loopback():
    """Any other host is refused before a connection is made."""
    with pytest.raises(ValueError, match="loopback"):
        asyncio.run(load_generate("example.com", 80, b"", total=1))


def test_a_copied_worker_finds_pyodide_and_the_engine_from_its_new_directory(tmp_path):
    """The bench copy is the shipped worker as it is; only its engage-config.mjs differs: the
    paths (relative to the copy), the snapshot it names, and the hook."""
    dist = tmp_path / "dist"
    dist.mkdir()
    for name in ("engage.js", "engage-worker.mjs"):
        (dist / name).write_bytes((ROOT / "static" / name).read_bytes())
    info = SnapshotInfo("s.bin", "k", "ab", 10, 10, 1.0)
    copy_worker(dist, dist / "bench" / "hook", snapshot=info)
    copied = dist / "bench" / "hook"
    assert (copied / "engage-worker.mjs").read_bytes() == (dist / "engage-worker.mjs").read_bytes()
    config = (copied / "engage-config.mjs").read_text()
    assert '"pyodideBase": "../../pyodide/"' in config
    assert '"engineZip": "../../engage_web.zip"' in config
    assert '"file": "../../s.bin"' in config
    assert '"benchHooks": true' in config
    copy_worker(dist, dist / "plain", "../", hook=False)
    assert '"benchHooks": false' in (dist / "plain" / "engage-config.mjs").read_text()
    assert '"snapshot": null' in (dist / "plain" / "engage-config.mjs").read_text()


def test_the_soak_reads_the_emulators_memory_before_and_after_each_round():
    """A tiny soak against a real ``serve`` process: one row per round plus the one before, each
    with the process's RSS, every check answered 200."""
    from tools.bench import bench_soak, render

    soak = bench_soak(ROOT, rounds=2, distinct=20, repeated=10, concurrency=4)
    assert [row["round"] for row in soak["rows"]] == [0, 1, 2]
    assert all(row["rss"] and row["rss"] > 1_000_000 for row in soak["rows"])
    assert [row["statuses"] for row in soak["rows"][1:]] == [{"200": 30}, {"200": 30}]
    text = render({"machine": {"nproc": 1, "loadavg_start": [], "loadavg_end": [],
                               "chromium": "-"}, "started": "-", "soak": soak})
    assert all(part in text for part in ("before", "round 2", "(RSS)"))


def test_settling_waits_for_busy_child_processes_and_not_for_idle_ones():
    """A browser still starting (here: a child process spinning) is waited for, up to the cap;
    with nothing busy under this process the wait ends after two quiet sampling windows."""
    spinning = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        assert settle_browser(cap_s=1.0) >= 1.0
    finally:
        spinning.kill()
        spinning.wait()
    assert settle_browser(cap_s=5.0) < 5.0
