"""The per-engine section of ``python3 build.py bench``: the embed's first answer in Chromium,
Firefox and WebKit, side by side, measured in one run.

For each engine and run, a browser with a fresh profile (an empty HTTP cache: a first visit)
opens a host page with the shipped one-tag embed against the emulator on loopback, scenario
without warm-up (the first check answers Available). Recorded per run:

- ``answer_ms``: time from navigation start (the page's ``performance.now()`` origin) to the
  first ``onEngagement``;
- ``boot``: how the worker booted (``snapshot`` or ``normal``, from ``onReady``) and its
  ``boot_ms`` (Pyodide and engine, inside the worker);
- ``bytes``: what the server sent for the visit (status lines, headers, bodies);
- the same page again in the same browser (``second_ms``, ``second_bytes``: a later visit).
  WebKitGTK's automation sessions are ephemeral, with a memory-only HTTP cache that keeps no
  multi-megabyte file, so its second visit downloads the runtime again, unlike Safari with its
  disk cache.

Runs are interleaved (Chromium, Firefox, WebKit, then again) so that the shared machine's load
weighs on every engine alike. Chromium runs on Playwright, a new context per run; Firefox and
WebKit on Selenium (``tools/browsers.py``), a new browser per run (for Chromium, a new
profile directory). Example::

    python3 -m tools.bench 5 engines          # this section only
    >>> run(Path("."), runs=3)                # doctest: +SKIP
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tools import browsers

__all__ = ["BENCH_PAGE", "render", "run", "summarize_engines"]

PAGE_PATH = "/__bench/engines.html"
SCRIPT_PATH = "/__bench/engines.js"
ANSWER_TIMEOUT_S = 120

#: The host page: the one tag and a page script recording the first answer (external scripts
#: only, like a strict-CSP host page).
BENCH_PAGE = f"""<!doctype html><html><head><meta charset="utf-8">
<title>bench: the embed in this engine</title>
<script src="/engage.js" data-endpoint="/" data-account-id="demo"></script>
<script src="{SCRIPT_PATH}"></script>
</head><body><h1>host page</h1></body></html>"""

BENCH_SCRIPT = """
window.__bench = {answerAt: null, status: null, ready: null};
ChatApi.bind("onReady", function (ready) {
  if (!window.__bench.ready) window.__bench.ready = ready;
});
ChatApi.bind("onEngagement", function (outcome) {
  if (window.__bench.answerAt === null) {
    window.__bench.answerAt = performance.now();
    window.__bench.status = outcome.status;
  }
});
ChatApi.getEngagement({consumerSections: ["Support", "English", "Other"]});
"""

_RESULT_JS = (
    "return window.__bench && window.__bench.answerAt !== null && window.__bench.ready"
    " ? {answerAt: window.__bench.answerAt, status: window.__bench.status,"
    " ready: window.__bench.ready} : null;"
)


def _bench_app(app: Any) -> Any:
    """``app`` plus the bench page and its script."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in (PAGE_PATH, SCRIPT_PATH):
            html = path == PAGE_PATH
            body = (BENCH_PAGE if html else BENCH_SCRIPT).encode()
            kind = b"text/html; charset=utf-8" if html else b"text/javascript"
            await send({"type": "http.response.start", "status": 200, "headers": [
                (b"content-type", kind), (b"cache-control", b"no-store"),
                (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return wrapped


class _Chromium:
    """Playwright's Chromium; a new browser profile (a temporary directory) per run."""

    def __init__(self) -> None:
        from playwright.sync_api import sync_playwright

        self._pw = sync_playwright().start()
        self._profile: tempfile.TemporaryDirectory[str] | None = None
        self.context: Any = None
        self.page: Any = None

    def new_profile(self) -> None:
        from tools.chromium import CHROMIUM, CHROMIUM_ARGS

        self._close_context()
        self._profile = tempfile.TemporaryDirectory(prefix="engage-bench-")
        self.context = self._pw.chromium.launch_persistent_context(
            self._profile.name, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        self.page = self.context.pages[0] if self.context.pages else self.context.new_page()

    def goto(self, url: str) -> None:
        self.page.goto(url, wait_until="commit")

    def result(self) -> Any:
        return self.page.evaluate("() => {" + _RESULT_JS + "}")

    def _close_context(self) -> None:
        if self.context is not None:
            self.context.close()
            self.context = None
        if self._profile is not None:
            self._profile.cleanup()
            self._profile = None

    def close(self) -> None:
        self._close_context()
        self._pw.stop()


class _Selenium:
    """Firefox or WebKit through Selenium; a new browser (fresh profile) per run."""

    def __init__(self, engine: str, display: str | None) -> None:
        self.engine = engine
        self.display = display
        self.driver: Any = None

    def new_profile(self) -> None:
        if self.driver is not None:
            self.driver.quit()
        if self.engine == "webkit":
            assert self.display is not None
            self.driver = browsers.launch_webkit(self.display)
        else:
            self.driver = browsers.launch_firefox(bidi=False)

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def result(self) -> Any:
        return self.driver.execute_script(_RESULT_JS)

    def close(self) -> None:
        if self.driver is not None:
            self.driver.quit()
            self.driver = None


def _visit(browser: Any, url: str, counter: Any) -> dict[str, Any]:
    """Open the bench page once, the browser at rest, and wait for its first answer; one
    sample."""
    from tools.bench import settle_browser

    settled = settle_browser()
    counter.reset()
    started = time.monotonic()
    try:
        browser.goto(url)
        while True:
            found = browser.result()
            if found:
                break
            if time.monotonic() - started > ANSWER_TIMEOUT_S:
                return {"error": f"no answer within {ANSWER_TIMEOUT_S} s"}
            time.sleep(0.05)   # polling the page for its recorded answer, not a timing
    except Exception as exc:   # a failed run is reported, not fatal
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    ready = found.get("ready") or {}
    return {
        "answer_ms": round(found["answerAt"], 1),
        "status": found["status"],
        "boot": ready.get("bootKind"),
        "boot_ms": ready.get("bootMs"),
        "bytes": counter.bytes,
        "settle_s": settled,
    }


def run(root: Path, runs: int = 5) -> dict[str, Any]:
    """Measure every installed engine ``runs`` times, interleaved; summaries and samples."""
    from tools.bench import ByteCounter, bench_scenario
    from tools.devserver import ServerThread, create_dev_app

    notes: list[str] = []
    engines = []
    for engine in browsers.ENGINES:
        reason = browsers.missing(engine)
        if reason:
            notes.append(f"{engine} skipped: {reason}")
        else:
            engines.append(engine)
    samples: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
    counter = ByteCounter(create_dev_app(Path(root), scenario=bench_scenario()))
    display = browsers.Xvfb() if "webkit" in engines else None
    with ServerThread(_bench_app(counter)) as base:
        opened: dict[str, Any] = {}
        try:
            for engine in engines:
                if engine == "chromium":
                    opened[engine] = _Chromium()
                else:
                    if engine == "webkit" and display is not None and display.display is None:
                        display.start()
                    opened[engine] = _Selenium(engine, display.display if display else None)
            for index in range(runs):
                for engine in engines:
                    browser = opened[engine]
                    try:
                        browser.new_profile()
                    except Exception as exc:
                        sample = {"error": f"could not start: {type(exc).__name__}: {exc}"[:300]}
                    else:
                        sample = _visit(browser, base + PAGE_PATH, counter)
                        if "error" not in sample:
                            again = _visit(browser, base + PAGE_PATH, counter)
                            sample["second_ms"] = again.get("answer_ms")
                            sample["second_bytes"] = again.get("bytes")
                    samples[engine].append(sample)
                    _progress(f"run {index + 1}/{runs} {engine}", sample)
        finally:
            for browser in opened.values():
                browser.close()
            if display is not None:
                display.stop()
    versions = {engine: browsers.engine_version(engine) for engine in engines}
    return {
        "summary": summarize_engines(samples),
        "versions": versions,
        "samples": samples,
        "notes": notes,
    }


def _progress(label: str, sample: dict[str, Any]) -> None:
    if "error" in sample:
        print(f"[bench] {label}: FAILED {sample['error']}", flush=True)
        return
    print(
        f"[bench] {label}: {sample['answer_ms']:.0f} ms ({sample['boot']} boot, worker "
        f"{sample['boot_ms']} ms), {sample['bytes'] / 1e6:.2f} MB, {sample['status']}; "
        f"second visit {sample.get('second_ms') or 0:.0f} ms",
        flush=True,
    )


def _median(values: list[float | None]) -> float | None:
    found = [v for v in values if v is not None]
    return statistics.median(found) if found else None


def summarize_engines(samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per engine: medians of the runs that answered Available, boot kinds, ratio to Chromium.

    >>> s = summarize_engines({"chromium": [{"answer_ms": 100, "status": "Available",
    ...     "boot": "snapshot", "boot_ms": 50, "bytes": 10}], "webkit": [{"answer_ms": 150,
    ...     "status": "Available", "boot": "snapshot", "boot_ms": 90, "bytes": 10}]})
    >>> s["webkit"]["vs_chromium"], s["webkit"]["boots"]
    (1.5, {'snapshot': 1})
    """
    rows: dict[str, Any] = {}
    for engine, runs in samples.items():
        ok = [s for s in runs if "error" not in s and s.get("status") == "Available"]
        boots: dict[str, int] = {}
        for sample in ok:
            boots[str(sample.get("boot"))] = boots.get(str(sample.get("boot")), 0) + 1
        rows[engine] = {
            "n": len(ok),
            "failed": len(runs) - len(ok),
            "answer_ms": _median([s["answer_ms"] for s in ok]),
            "answer_min_ms": min((s["answer_ms"] for s in ok), default=None),
            "answer_max_ms": max((s["answer_ms"] for s in ok), default=None),
            "boot_ms": _median([s.get("boot_ms") for s in ok]),
            "boots": boots,
            "bytes": _median([s.get("bytes") for s in ok]),
            "second_ms": _median([s.get("second_ms") for s in ok]),
            "second_bytes": _median([s.get("second_bytes") for s in ok]),
        }
    base = rows.get("chromium", {}).get("answer_ms")
    for row in rows.values():
        row["vs_chromium"] = (
            round(row["answer_ms"] / base, 2) if base and row["answer_ms"] is not None else None
        )
    return rows


def render(result: dict[str, Any]) -> str:
    """The section's table (Markdown), engines side by side."""
    summary = result.get("summary", {})
    versions = result.get("versions", {})
    lines = [
        "",
        "Per engine: first answer of the shipped embed, fresh profile per run (medians)",
        "",
        "| engine | first answer | vs Chromium | boot | worker boot | bytes | second visit |",
        "|---|---|---|---|---|---|---|",
    ]
    for engine, row in summary.items():
        name = versions.get(engine) or engine
        boots = ", ".join(f"{kind} x{n}" for kind, n in sorted(row["boots"].items())) or "-"
        lines.append(
            f"| {name} | {_ms(row['answer_ms'])} (range {_ms(row['answer_min_ms'])}-"
            f"{_ms(row['answer_max_ms'])}) | {row['vs_chromium'] or '-'} | {boots} | "
            f"{_ms(row['boot_ms'])} | {_mb(row['bytes'])} | {_ms(row['second_ms'])}, "
            f"{_mb(row['second_bytes'])} |"
        )
        if row["failed"]:
            lines.append(f"|   ({row['failed']} failed run(s)) | | | | | | |")
    lines += [f"- {note}" for note in result.get("notes", [])]
    return "\n".join(lines)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:.2f} MB"


if __name__ == "__main__":  # pragma: no cover - python -m tools.bench_engines [runs]
    import json
    import sys

    found = run(Path(__file__).resolve().parents[1], runs=int(sys.argv[1]) if sys.argv[1:] else 3)
    print(render(found))
    print(json.dumps({k: v for k, v in found.items() if k != "samples"}, indent=2))

