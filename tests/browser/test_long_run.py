"""Long runs: a kiosk page watched through thousands of availability changes and outages.

The page runs ``ChatApi.watch(params, {intervalMs: 50, ...})`` against an emulator wrapped in
``InFlight`` (which counts concurrent requests). The test flips the "Sales" skill's agents on and
off thousands of times through the emulator's control route, injects outages (dropped
connections) every few hundred flips, and at regular sync points waits until the page shows the
state it just set. It asserts that the watch keeps up after every outage, that no two checks are
ever in flight at once (one watcher, also after ``watch`` is called again), and that memory stays
bounded; figures go to ``test-artifacts/long-run.json``. No timing is asserted.

CI runs 2,000 flips; ``python3 build.py test --deep`` runs 10,000.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from engage_web.cpython.emulator.app import create_app
from tests.browser.conftest import Probe, embed_page, write_artifact
from tests.browser.hardening import InFlight, OutageServer

pytestmark = pytest.mark.browser

DEEP = os.environ.get("ENGAGE_WEB_DEEP") == "1"
FLIPS = 10_000 if DEEP else 2_000
SYNC_EVERY = 50
OUTAGE_EVERY = 400
SALES = {"consumerSections": ["Sales"]}  # skill 24: Available exactly when it has agents
WATCH = {"intervalMs": 50, "expiryMarginMs": 10, "outageIntervalMs": 50, "minIntervalMs": 20}
RETRY = {
    "retries": 1,
    "backoffInitialMs": 20,
    "backoffMaxMs": 50,
    "attemptTimeoutMs": 3000,
    "notAvailableRechecks": 0,
}
NETWORK_LOG = r"Failed to load resource|net::ERR_|Failed to fetch"

RECORD = """<script>
  window.__seen = 0;
  window.__last = null;
  ChatApi.bind("onEngagement", function (outcome) {
    window.__seen += 1;
    window.__last = outcome.status;
  });
</script>"""


def _renderer_rss_kib() -> int:
    """Resident memory of the renderer processes of this test run's Chromium (the page and its
    worker live there): only processes descending from this process count, so a browser of
    another run on the same machine cannot move the figure."""
    from tools.bench import _descendants

    total = 0
    for pid in _descendants(os.getpid()):
        proc = Path("/proc") / str(pid)
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if b"chrom" not in cmdline or b"--type=renderer" not in cmdline:
                continue
            for line in (proc / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def _sample(page: Any, flips: int) -> dict[str, Any]:
    heap = page.evaluate("(performance.memory && performance.memory.usedJSHeapSize) || null")
    return {"flips": flips, "jsHeapBytes": heap, "rendererRssKiB": _renderer_rss_kib()}


def test_a_kiosk_watch_survives_thousands_of_changes_and_outages_with_one_watcher(
    probe: Probe,
):
    """Thousands of availability flips and repeated outages: the watch follows every sync point,
    recovers after each outage, never runs two checks at once, and its memory stays bounded."""
    probe.allow(NETWORK_LOG)
    inflight = InFlight(create_app(cors_origins=["*"]))
    outage = OutageServer(inflight)
    control = outage.control()
    started = time.monotonic()
    try:
        page = probe.open(embed_page(endpoint=None, account=None, body=RECORD))
        page.evaluate(
            """(config) => new Promise((resolve) => {
              ChatApi.bind("onReady", function once() {
                ChatApi.unbind("onReady", once);
                resolve();
              });
              ChatApi.init(config);
            })""",
            {"endpoint": outage.base_url, "accountId": "demo", "retry": RETRY},
        )
        page.evaluate("([p, o]) => { ChatApi.watch(p, o); }", [SALES, WATCH])
        page.wait_for_function("window.__last === 'NotAvailable'")

        samples = [_sample(page, 0)]
        outages = 0
        agents = 0
        for flip in range(1, FLIPS + 1):
            agents = 1 - agents
            control.client.post("/_emulator/skills/24", json={"agentsOnline": agents})
            if flip % OUTAGE_EVERY == 0:
                outages += 1
                control.fault(count=4, mode="drop")
                page.wait_for_function("window.__last === 'Error'")
            if flip % SYNC_EVERY == 0:
                expected = "Available" if agents else "NotAvailable"
                page.wait_for_function(f"window.__last === '{expected}'")
            if flip == FLIPS // 2:  # the page starts its watch again: still one watcher
                page.evaluate("([p, o]) => { ChatApi.watch(p, o); }", [SALES, WATCH])
            if flip % (FLIPS // 10) == 0:
                samples.append(_sample(page, flip))
        page.evaluate("ChatApi.unwatch()")
        seen = page.evaluate("window.__seen")
    finally:
        control.client.close()
        outage.stop()

    figures = {
        "flips": FLIPS,
        "outages": outages,
        "outcomesSeen": seen,
        "checks": inflight.total.get("engagement", 0),
        "peakConcurrentChecks": inflight.peak.get("engagement", 0),
        "seconds": round(time.monotonic() - started, 1),
        "samples": samples,
    }
    write_artifact("long-run.json", figures)
    assert figures["peakConcurrentChecks"] == 1
    assert seen >= 2 * (FLIPS // SYNC_EVERY) // 2  # it followed the sync points
    settled = samples[2]["rendererRssKiB"]
    assert samples[-1]["rendererRssKiB"] <= settled * 1.5 + 64 * 1024, samples
