"""``python3 build.py bench``: engage-web's start-up, retry, long-run and endpoint benchmarks.

Everything runs on loopback against the emulator, in headless system Chromium (Playwright),
and prints a table; the figures and every sample go to a JSON file. Benchmarks are not tests:
nothing here asserts a timing, it reports. Sections:

1. Start-up, interleaved, a fresh browser context per run (a cold HTTP cache): (a) a hand-written
   JS fetch page (the floor), (b) bare Pyodide on the main thread + pyfetch (today's naive way),
   (c) the shipped embed (``/engage.js``, booting from the build's memory snapshot) and its
   second visit in the same profile, and (d) the same embed with its snapshot line set to null:
   the normal boot it falls back to. (When a build ships no snapshot, (d) is the snapshot
   prototype, ``tools/snapshot.py`` applied to a copy of the worker.)
   Each run is a new browser profile (empty disk cache), navigated once the browser is at rest
   (:func:`settle_browser`: a visitor's browser is not starting up). For each: time from
   navigation start to the first ``onEngagement``, main-thread long tasks, bytes the server
   sent, JS heap (main thread and worker) after the answer; ratios c/b and c/a (d/b, d/a...).
2. Retry timing: the gap between an ``onRetry`` (the policy scheduling an attempt ``delayMs``
   later) and the emulator receiving that attempt; and the browser's CPU while a retry waits.
3. Long-running page: 2,000 checks in one page, JS heap (page and worker) and WebAssembly memory
   sampled; growth from the first sample to the last.
4. Endpoint throughput: a keep-alive asyncio HTTP/1.1 load generator against a uvicorn process
   serving the emulator, beside a minimal Starlette route on the same server.
5. Engines (``tools/bench_engines.py``): the shipped embed's first answer, boot kind and bytes
   in Chromium, Firefox and WebKit side by side, interleaved, a fresh profile per run.
6. Emulator soak: ``python -m engage_web serve`` in its own process, then rounds of checks with
   100 SDEs each, new visitors (a session each) and one session checked again and again; the
   process's resident memory (RSS) before and after each round, side by side. Its stores are
   bounded (``engage_web/cpython/emulator/limits.py``): memory grows until the caps are
   reached, then stays flat.

The scenario answers Available on the first check (``warmUp = 0``) so every variant makes
exactly one request. Bench pages live in ``tools/bench_pages/`` and are copied to
``dist/bench/``; copies of the embed go to ``dist/bench/hook/`` (its ``engage-config.mjs`` turns
on ``self.__engageBench``, which exposes the WebAssembly memory size), ``dist/bench/nosnap/``
and ``dist/bench/snap/`` (the snapshot prototype). Files are served as the dev server serves
them (precompressed copies by ``Accept-Encoding``; ``dist/pyodide/`` and the content-hashed
snapshot cached as immutable). Example::

    python3 build.py bench --runs 5 --out bench-results/latest.json
    >>> main(Path("."), runs=3, out="bench-results/x.json")     # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from engage_web.core.session import Session
from engage_web.core.wire import session_url
from tools.chromium import CHROMIUM, CHROMIUM_ARGS, launch
from tools.worker_config import CONFIG_FILE, worker_config

__all__ = [
    "LoadResult",
    "bench_soak",
    "copy_worker",
    "load_generate",
    "main",
    "summarize",
    "throughput_app",
]

BOOT_TIMEOUT_MS = 120_000
PAGES = Path(__file__).resolve().parent / "bench_pages"
SECTIONS = ["Support", "English", "Other"]
ENGAGEMENT_URL = session_url("", "demo", None)
MINIMAL_PATH = "/__bench/minimal"

# Installed before any page script: the answer time, main-thread long tasks, onRetry events.
INIT_SCRIPT = """
window.__bench = {answerAt: null, outcome: null, longTasks: [], retries: []};
window.__benchAnswer = function (outcome) {
  if (window.__bench.answerAt === null) {
    window.__bench.answerAt = performance.now();
    window.__bench.outcome = outcome;
  }
};
try {
  new PerformanceObserver(function (list) {
    for (const entry of list.getEntries()) window.__bench.longTasks.push(entry.duration);
  }).observe({type: "longtask", buffered: true});
} catch (e) { /* no longtask support: reported as 0 */ }
"""


# -- statistics ------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarize(values: Iterable[float | None]) -> dict[str, float | int | None]:
    """Median, spread (min, max, p25, p75, p95) and count of the values that are not None.

    >>> summarize([3, 1, 2])["median"], summarize([3, 1, 2])["max"]
    (2, 3)
    >>> summarize([None])["median"] is None
    True
    """
    found = [v for v in values if v is not None]
    if not found:
        return {"n": 0, "median": None, "min": None, "max": None, "p25": None, "p75": None,
                "p95": None}
    return {
        "n": len(found),
        "median": statistics.median(found),
        "min": min(found),
        "max": max(found),
        "p25": _percentile(found, 0.25),
        "p75": _percentile(found, 0.75),
        "p95": _percentile(found, 0.95),
    }


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return None if top is None or not bottom else round(top / bottom, 3)


# -- the site under test ---------------------------------------------------------------------


def bench_scenario() -> Any:
    """The default scenario with no warm-up: the first check of a session answers Available."""
    from engage_web.cpython.emulator.scenario import load_scenario

    base = load_scenario()
    accounts = {k: dataclasses.replace(a, warm_up=0) for k, a in base.accounts.items()}
    return dataclasses.replace(base, accounts=accounts, warm_up=0, source="<bench: warmUp 0>")


class ByteCounter:
    """ASGI middleware: counts response bytes (status line, headers, body) and requests."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.bytes = 0
        self.requests = 0

    def reset(self) -> None:
        self.bytes = 0
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.requests += 1

        async def counting_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                self.bytes += 17 + sum(len(k) + len(v) + 4 for k, v in message.get("headers", []))
            elif message["type"] == "http.response.body":
                self.bytes += len(message.get("body", b""))
            await send(message)

        await self.app(scope, receive, counting_send)


def _minimal_app() -> Any:
    """A minimal Starlette app: one JSON route, body read, no middleware (the yardstick)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def minimal(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route(MINIMAL_PATH, minimal, methods=["POST"])])


def _dispatch(minimal: Any, main_app: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        target = minimal if scope.get("path") == MINIMAL_PATH else main_app
        await target(scope, receive, send)

    return app


def throughput_app() -> Any:
    """The emulator (bench scenario) plus the minimal route on one server (a uvicorn factory)."""
    from engage_web.cpython.emulator.app import create_app

    return _dispatch(_minimal_app(), create_app(bench_scenario()))


def copy_worker(
    dist: Path,
    where: Path,
    prefix: str = "../../",
    *,
    snapshot: Any = None,
    stdlib: str | None = None,
    hook: bool = True,
) -> None:
    """A copy of the shipped embed (``engage.js`` and the worker) served from ``where``: its own
    ``engage-config.mjs`` finds Pyodide and the engine bundle at ``prefix`` (relative to the
    worker), names ``snapshot`` (a ``SnapshotInfo``, its file at ``prefix`` too; None: a normal
    boot) and the trimmed library (``stdlib``, default the snapshot's), and, with ``hook``,
    exposes the worker's WebAssembly memory size (``__engageBench``).

    Example::

        copy_worker(Path("dist"), Path("dist/bench/hook"), snapshot=load_manifest(dist))
    """
    if stdlib is None and snapshot is not None:
        stdlib = snapshot.stdlib
    where.mkdir(parents=True, exist_ok=True)
    for name in ("engage.js", "engage-worker.mjs"):
        shutil.copy(dist / name, where / name)
    config = worker_config(
        pyodide_base=f"{prefix}pyodide/",
        engine_zip=f"{prefix}engage_web.zip",
        snapshot=snapshot.for_worker(prefix, gzip=(dist / f"{snapshot.file}.gz").is_file())
        if snapshot is not None
        else None,
        stdlib=f"{prefix}{stdlib}" if stdlib else None,
        bench_hooks=hook,
    )
    (where / CONFIG_FILE).write_bytes(config)


@dataclasses.dataclass(frozen=True)
class Site:
    """What :func:`prepare_site` wrote: page paths by variant and the snapshot (if any)."""

    pages: dict[str, str]
    snapshot: Any
    shipped_has_snapshot: bool
    notes: list[str]


def prepare_site(root: Path) -> Site:
    """Write the bench pages and the instrumented embed copies into ``dist/bench/``."""
    from tools import snapshot as snap

    dist = root / "dist"
    out = dist / "bench"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    notes: list[str] = []
    embed_html = (PAGES / "embed.html").read_text(encoding="utf-8")
    for name in ("floor.html", "naive.html", "kiosk.html", "retry.html", "visit2.html"):
        shutil.copy(PAGES / name, out / name)
    (out / "embed.html").write_text(embed_html.replace("ENGAGE_SRC", "/engage.js"), "utf-8")

    shipped_info = snap.load_manifest(dist)
    shipped_has_snapshot = (
        shipped_info is not None
        and f'"{shipped_info.file}"' in (dist / CONFIG_FILE).read_text(encoding="utf-8")
    )
    if not shipped_has_snapshot:
        shipped_info = None
    copy_worker(dist, out / "hook", snapshot=shipped_info)

    pages = {
        "a": "/bench/floor.html",
        "b": "/bench/naive.html",
        "c": "/bench/embed.html",
    }
    info = None
    if not shipped_has_snapshot:
        try:
            info = snap.ensure_snapshot(dist)
        except snap.SnapshotError as exc:
            notes.append(f"snapshot prototype skipped: {exc}")
        if info is not None:
            copy_worker(dist, out / "snap", snapshot=info)
            (out / "embed-snap.html").write_text(
                embed_html.replace("ENGAGE_SRC", "/bench/snap/engage.js"), "utf-8"
            )
            pages["d"] = "/bench/embed-snap.html"
    else:
        # The shipped embed booting as it does when its snapshot cannot be used: what it pays.
        info = shipped_info
        stdlib = shipped_info.stdlib if shipped_info is not None else None
        copy_worker(dist, out / "nosnap", snapshot=None, stdlib=stdlib)
        (out / "embed-nosnap.html").write_text(
            embed_html.replace("ENGAGE_SRC", "/bench/nosnap/engage.js"), "utf-8"
        )
        pages["d"] = "/bench/embed-nosnap.html"
    return Site(pages, info, shipped_has_snapshot, notes)


# -- browser helpers -------------------------------------------------------------------------


class WorkerSession:
    """A CDP session on the page's dedicated worker, reached through a page CDP session."""

    def __init__(self, cdp: Any) -> None:
        self.cdp = cdp
        self.replies: dict[int, Any] = {}
        self.session_id: str | None = None
        self.last_id = 0
        cdp.on("Target.receivedMessageFromTarget", self._on_message)

    def pump(self) -> None:
        """One round trip, so that pending CDP events are delivered."""
        self.cdp.send("Target.getTargets")

    def _on_message(self, event: dict[str, Any]) -> None:
        if event.get("sessionId") != self.session_id:
            return
        message = json.loads(event["message"])
        if "id" in message:
            self.replies[message["id"]] = message

    def attach(self, url_part: str) -> bool:
        """Attach to the live worker whose URL contains ``url_part``; False when there is none."""
        targets = self.cdp.send("Target.getTargets")["targetInfos"]
        live = [t for t in targets if t["type"] == "worker" and url_part in t["url"]]
        if not live:
            return False
        reply = self.cdp.send(
            "Target.attachToTarget", {"targetId": live[-1]["targetId"], "flatten": False}
        )
        self.session_id = reply["sessionId"]
        return True

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if self.session_id is None:
            return None
        self.last_id += 1
        call_id = self.last_id
        self.cdp.send(
            "Target.sendMessageToTarget",
            {
                "sessionId": self.session_id,
                "message": json.dumps({"id": call_id, "method": method, "params": params or {}}),
            },
        )
        deadline = time.monotonic() + 10
        while call_id not in self.replies and time.monotonic() < deadline:
            self.pump()
        return self.replies.pop(call_id, {}).get("result")

    def heap(self) -> int | None:
        """Used JS heap of the worker after a full GC (bytes)."""
        self.send("HeapProfiler.collectGarbage")
        usage = self.send("Runtime.getHeapUsage")
        return usage.get("usedSize") if usage else None

    def detach(self) -> None:
        if self.session_id is not None:
            with contextlib.suppress(Exception):  # the worker may be gone already
                self.cdp.send("Target.detachFromTarget", {"sessionId": self.session_id})
            self.session_id = None


def _page_heap(context: Any, page: Any) -> int:
    cdp = context.new_cdp_session(page)
    try:
        cdp.send("HeapProfiler.collectGarbage")
        return int(cdp.send("Runtime.getHeapUsage")["usedSize"])
    finally:
        cdp.detach()


def _descendants(pid: int) -> list[int]:
    """Process ids under ``pid`` (Linux /proc), for the browser's CPU time."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cpu_seconds(pids: Iterable[int], name: bytes | None = b"chromium") -> dict[int, float]:
    """CPU seconds used so far by each of ``pids`` whose command line holds ``name`` (None:
    every one)."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
        except OSError:
            continue
        if name is None or name in cmd:
            out[pid] = (int(fields[11]) + int(fields[12])) / ticks
    return out


#: When a browser is at rest: its processes together under this share of one core ...
IDLE_SHARE = 0.10
#: ... for two sampling windows of this length in a row; waiting at most SETTLE_CAP_S.
IDLE_WINDOW_S = 0.2
SETTLE_CAP_S = 10.0


def settle_browser(cap_s: float = SETTLE_CAP_S) -> float:
    """Wait until the browsers this process started are at rest, at most ``cap_s``; return the
    seconds waited.

    A browser launched on a new profile works for about a second before it rests (Chromium 156
    on the project's 2-core machine: 1.5 cores for about 1 s, preloading its own top-chrome
    WebUI, the omnibox popup among them). A visitor's browser did that long before they opened
    the page; navigating at once charged that work to the page being measured, and most to the
    fastest variants. Pages are still measured with a cold HTTP cache (a new profile per run).

    Example::

        context = playwright.chromium.launch_persistent_context(profile, ...)
        waited = settle_browser()          # then page.goto(url)
    """
    started = time.monotonic()

    def used() -> float:
        return sum(_cpu_seconds(_descendants(os.getpid()), name=None).values())

    quiet, before, at = 0, used(), started
    while quiet < 2 and time.monotonic() - started < cap_s:
        time.sleep(IDLE_WINDOW_S)   # one sampling window of the processes' CPU time
        now, then = used(), time.monotonic()
        quiet = quiet + 1 if (now - before) / (then - at) < IDLE_SHARE else 0
        before, at = now, then
    return round(time.monotonic() - started, 2)


# -- 1. start-up -----------------------------------------------------------------------------


def _measure_page(
    context: Any, url: str, counter: ByteCounter, *, throttle: float | None = None
) -> dict:
    """Open ``url`` in a new page of ``context`` and measure its first answer; ``throttle``
    slows the page's CPU that many times (Chrome DevTools' CPU throttling)."""
    page = context.new_page()
    for other in context.pages:   # the persistent context's initial blank page
        if other is not page:
            other.close()
    if throttle:
        context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
    page.on(
        "console",
        lambda m: problems.append(f"console.{m.type}: {m.text[:200]}")
        if m.type in ("error", "warning") else None,
    )
    settled = settle_browser()
    counter.reset()
    started = time.monotonic()
    try:
        page.goto(url, wait_until="commit")
        page.wait_for_function(
            "window.__bench && window.__bench.answerAt !== null",
            timeout=BOOT_TIMEOUT_MS,
            polling=100,
        )
        page.evaluate("new Promise((r) => setTimeout(r, 150))")   # let longtask entries arrive
        data = page.evaluate(
            "({answerAt: __bench.answerAt, longTasks: __bench.longTasks,"
            " status: __bench.outcome && __bench.outcome.status})"
        )
    except Exception as exc:  # a run that fails is reported, not fatal
        page.close()
        return {"error": f"{type(exc).__name__}: {str(exc)[:300]}", "problems": problems}
    sent = counter.bytes
    workers = WorkerSession(context.new_cdp_session(page))
    worker_heap = workers.heap() if workers.attach("engage-worker") else None
    workers.detach()
    result = {
        "answer_ms": round(data["answerAt"], 1),
        "long_tasks_ms": round(sum(data["longTasks"]), 1),
        "longest_task_ms": round(max(data["longTasks"], default=0), 1),
        "bytes": sent,
        "heap_main": _page_heap(context, page),
        "heap_worker": worker_heap,
        "status": data["status"],
        "wall_s": round(time.monotonic() - started, 2),
        "settle_s": settled,
        "problems": problems,
    }
    page.close()
    return result


def bench_startup(playwright: Any, base: str, site: Site, counter: ByteCounter, runs: int) -> dict:
    """Interleaved cold starts, each in a new browser profile (empty disk cache), and the
    second visit of the embeds in the same profile; every sample kept."""
    samples: dict[str, list[dict]] = {}
    for run in range(runs):
        for key, path in site.pages.items():
            with tempfile.TemporaryDirectory(prefix="engage-bench-") as profile:
                context = playwright.chromium.launch_persistent_context(
                    profile, executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
                )
                context.add_init_script(INIT_SCRIPT)
                try:
                    first = _measure_page(context, base + path, counter)
                    samples.setdefault(key, []).append(first)
                    _progress(f"run {run + 1}/{runs} {key}", first)
                    if key in ("c", "d"):
                        second = _measure_page(context, base + path, counter)
                        samples.setdefault(key + "2", []).append(second)
                        _progress(f"run {run + 1}/{runs} {key} second visit", second)
                finally:
                    context.close()
    return samples


def _progress(label: str, sample: dict) -> None:
    if "error" in sample:
        print(f"[bench] {label}: FAILED {sample['error']}", flush=True)
    else:
        print(
            f"[bench] {label}: {sample['answer_ms']:.0f} ms, long tasks "
            f"{sample['long_tasks_ms']:.0f} ms, {sample['bytes'] / 1e6:.2f} MB, {sample['status']}",
            flush=True,
        )


def startup_summary(samples: dict[str, list[dict]]) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for key, runs in samples.items():
        ok = [s for s in runs if "error" not in s and s.get("status") == "Available"]
        rows[key] = {
            "runs": len(runs),
            "ok": len(ok),
            **{
                metric: summarize(s.get(metric) for s in ok)
                for metric in (
                    "answer_ms", "long_tasks_ms", "longest_task_ms", "bytes", "heap_main",
                    "heap_worker",
                )
            },
        }

    def med(key: str) -> float | None:
        return rows.get(key, {}).get("answer_ms", {}).get("median")

    ratios = {
        "c/b": _ratio(med("c"), med("b")),
        "c/a": _ratio(med("c"), med("a")),
        "c2/c": _ratio(med("c2"), med("c")),
    }
    if "d" in rows:
        ratios.update({
            "d/b": _ratio(med("d"), med("b")),
            "d/a": _ratio(med("d"), med("a")),
            "d/c": _ratio(med("d"), med("c")),
            "d2/d": _ratio(med("d2"), med("d")),
        })
    return {"rows": rows, "ratios": ratios}


# -- 2. retry timing -------------------------------------------------------------------------


def bench_retry(browser: Any, base: str, trials: int = 3, retries: int = 8) -> dict[str, Any]:
    """Gaps between onRetry (scheduled delayMs ahead) and the emulator receiving the attempt."""
    import httpx

    context = browser.new_context()
    context.add_init_script(INIT_SCRIPT)
    control = httpx.Client(base_url=base, timeout=10)
    result: dict[str, Any] = {"retries_per_trial": retries}
    try:
        page = context.new_page()
        page.goto(base + "/bench/retry.html?retries=" + str(retries))
        page.wait_for_function("window.ChatApi && window.ChatApi.ready", timeout=BOOT_TIMEOUT_MS,
                               polling=100)
        page_gaps: list[float] = []
        server_gaps: list[float] = []
        for _ in range(trials):
            control.post("/_emulator/reset").raise_for_status()
            control.post("/_emulator/faults", json={"count": retries, "status": 503})
            outcome = page.evaluate("window.runCheck()")
            log = [r for r in control.get("/_emulator/requests").json()["requests"]
                   if "/app/engagement" in r["path"]]
            events = outcome["retries"]
            if outcome["status"] != "Available" or len(log) != retries + 1:
                result.setdefault("problems", []).append(
                    f"trial: status {outcome['status']}, {len(log)} requests, {len(events)} retries"
                )
                continue
            for k, event in enumerate(events):
                sent = log[k + 1]["time"]
                page_gaps.append(sent - (event["at"] + event["delayMs"]))
                server_gaps.append(sent - log[k]["time"] - event["delayMs"])
        result["gap_ms"] = summarize(page_gaps)
        result["gap_upper_bound_ms"] = summarize(server_gaps)
        result["samples"] = {"gap_ms": page_gaps, "gap_upper_bound_ms": server_gaps}
        result["cpu_while_waiting"] = _cpu_during_wait(page, control)
    finally:
        control.close()
        context.close()
    return result


def _cpu_during_wait(page: Any, control: Any, wait_s: float = 4.0, window_s: float = 2.0) -> dict:
    """The browser's CPU while a check waits ``wait_s`` to retry, beside an idle window."""
    pids = _descendants(os.getpid())

    def window() -> dict[str, float]:
        before = _cpu_seconds(pids)
        started = time.monotonic()
        time.sleep(window_s)   # nothing may touch the browser while its CPU is measured
        elapsed = time.monotonic() - started
        after = _cpu_seconds(pids)
        used = {pid: after[pid] - before.get(pid, 0.0) for pid in after}
        return {
            "cpu_percent_all_processes": round(100 * sum(used.values()) / elapsed, 2),
            "cpu_percent_busiest_process": round(100 * max(used.values(), default=0) / elapsed, 2),
        }

    idle = window()
    control.post("/_emulator/reset").raise_for_status()
    control.post("/_emulator/faults", json={"count": 1, "status": 503})
    page.evaluate(f"window.startCheck([{int(wait_s * 1000)}])")
    page.wait_for_function("window.__bench.retries.length >= 1", polling=50, timeout=30_000)
    waiting = window()
    page.wait_for_function("window.__bench.lastOutcome !== null", polling=100, timeout=30_000)
    return {"window_s": window_s, "idle": idle, "waiting": waiting}


# -- 3. long-running page --------------------------------------------------------------------


def bench_kiosk(browser: Any, base: str, checks: int = 2000, batch: int = 250) -> dict[str, Any]:
    """``checks`` checks in one page; heap and wasm memory sampled after each batch."""
    context = browser.new_context()
    context.add_init_script(INIT_SCRIPT)
    samples: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        page = context.new_page()
        page.goto(base + "/bench/kiosk.html")
        page.wait_for_function("window.ChatApi && window.ChatApi.ready", timeout=BOOT_TIMEOUT_MS,
                               polling=100)
        workers = WorkerSession(context.new_cdp_session(page))
        workers.attach("engage-worker")
        worker = page.workers[0] if page.workers else None
        done = 0
        answer = page.evaluate("window.runChecks(20)")   # warm-up, not counted
        while True:
            samples.append({
                "checks": done,
                "heap_main": _page_heap(context, page),
                "heap_worker": workers.heap(),
                "wasm": worker.evaluate("self.__engageBench.wasmBytes()") if worker else None,
                "batch": answer,
                "elapsed_s": round(time.monotonic() - started, 1),
            })
            print(f"[bench] kiosk: {samples[-1]}", flush=True)
            if done >= checks:
                break
            count = min(batch, checks - done)
            answer = page.evaluate(f"window.runChecks({count})")
            done += count
    finally:
        context.close()
    first, last = samples[0], samples[-1]
    growth = {
        key: (last[key] - first[key]) if last.get(key) is not None and first.get(key) is not None
        else None
        for key in ("heap_main", "heap_worker", "wasm")
    }
    total = sum(v for v in growth.values() if v is not None)
    return {
        "checks": checks,
        "samples": samples,
        "growth_bytes": growth,
        "growth_total_bytes": total,
        "seconds": round(time.monotonic() - started, 1),
    }


# -- 4. endpoint throughput ------------------------------------------------------------------


@dataclasses.dataclass
class LoadResult:
    """One load-generator run: requests, errors, seconds, statuses and latencies (ms)."""

    requests: int
    errors: int
    seconds: float
    statuses: dict[int, int]
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict[str, Any]:
        lat = summarize(self.latencies_ms)
        return {
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "latency_ms": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in lat.items()},
            "p99_ms": round(_percentile(self.latencies_ms, 0.99), 3) if self.latencies_ms else None,
        }


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding":
            raise ConnectionError("chunked answers are not supported by this load generator")
    await reader.readexactly(length)
    return status


async def load_generate(
    host: str,
    port: int,
    request: bytes,
    *,
    total: int,
    concurrency: int = 16,
    time_limit: float = 20.0,
) -> LoadResult:
    """Send ``request`` (raw HTTP/1.1 bytes) ``total`` times over ``concurrency`` keep-alive
    connections, stopping early after ``time_limit`` seconds. Loopback use only.

    Example::

        req = b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n"
        result = asyncio.run(load_generate("127.0.0.1", 8000, req, total=1000))
        result.rps, result.to_dict()["p99_ms"]
    """
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"the load generator only targets loopback; got host {host!r}")
    remaining = total
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    started = time.perf_counter()
    deadline = started + time_limit

    async def connection() -> None:
        nonlocal remaining, errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while remaining > 0 and time.perf_counter() < deadline:
                remaining -= 1
                sent = time.perf_counter()
                writer.write(request)
                await writer.drain()
                status = await _read_response(reader)
                latencies.append((time.perf_counter() - sent) * 1000)
                statuses[status] = statuses.get(status, 0) + 1
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return LoadResult(len(latencies), errors, time.perf_counter() - started, statuses, latencies)


def _http_post(port: int, path: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bench_throughput(root: Path, rounds: int = 3, per_round: int = 2000) -> dict[str, Any]:
    """Emulator engagement route vs a minimal route, uvicorn in its own process, interleaved."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "tools.bench:throughput_app",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log", "--lifespan", "off"],
        cwd=root,
    )
    try:
        _wait_for_port(port, server, "the throughput server")
        body = json.dumps({"appType": "EXTERNAL", "consumerSections": SECTIONS}).encode()
        routes = {
            "minimal": _http_post(port, MINIMAL_PATH, body),
            "engagement": _http_post(port, ENGAGEMENT_URL, body),
        }
        runs: dict[str, list[LoadResult]] = {name: [] for name in routes}
        for request in routes.values():   # warm-up: imports, first sessions
            asyncio.run(load_generate("127.0.0.1", port, request, total=200))
        for _ in range(rounds):
            for name, request in routes.items():
                result = asyncio.run(load_generate("127.0.0.1", port, request, total=per_round))
                runs[name].append(result)
                print(f"[bench] throughput {name}: {result.rps:.0f} req/s, "
                      f"p99 {result.to_dict()['p99_ms']} ms", flush=True)
    finally:
        _stop(server)
    out: dict[str, Any] = {"rounds": rounds, "per_round": per_round, "concurrency": 16}
    for name, results in runs.items():
        latencies = [v for r in results for v in r.latencies_ms]
        out[name] = {
            "rps": summarize(r.rps for r in results),
            "p99_ms": round(_percentile(latencies, 0.99), 3) if latencies else None,
            "p50_ms": round(_percentile(latencies, 0.5), 3) if latencies else None,
            "errors": sum(r.errors for r in results),
            "statuses": _merge_statuses(r.statuses for r in results),
            "runs": [r.to_dict() for r in results],
        }
    out["ratios"] = {
        "engagement/minimal rps": _ratio(out["engagement"]["rps"]["median"],
                                         out["minimal"]["rps"]["median"]),
        "engagement/minimal p99": _ratio(out["engagement"]["p99_ms"], out["minimal"]["p99_ms"]),
    }
    return out


def _rss_bytes(pid: int) -> int | None:
    """Resident memory of process ``pid`` (Linux ``/proc``), or None where unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _wait_for_port(port: int, server: subprocess.Popen[Any], what: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"[bench] {what} exited at start") from None
            time.sleep(0.05)
    raise SystemExit(f"[bench] {what} did not listen on port {port} within 20 s")


def _stop(server: subprocess.Popen[Any]) -> None:
    """End a server process: politely, then for good after 10 s."""
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


def soak_body(sdes: int = 100) -> bytes:
    """A check's JSON body carrying ``sdes`` distinct lead SDEs (the most a check may carry).

    >>> len(json.loads(soak_body(3))["engagementAttributes"])
    3
    """
    attributes = [{"type": "lead", "lead": {"topic": f"topic {i}"}} for i in range(sdes)]
    body = {"appType": "EXTERNAL", "consumerSections": SECTIONS,
            "engagementAttributes": attributes}
    return json.dumps(body).encode()


def bench_soak(
    root: Path, rounds: int = 3, distinct: int = 3000, repeated: int = 1000,
    concurrency: int = 32,
) -> dict[str, Any]:
    """The emulator's memory under a sustained load: RSS of a ``serve`` process before and after
    each round of ``distinct`` checks from new visitors and ``repeated`` checks of one session,
    all with 100 SDEs, over ``concurrency`` keep-alive connections."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "engage_web", "serve", "--port", str(port)], cwd=root,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    body = soak_body()
    rows: list[dict[str, Any]] = []
    try:
        _wait_for_port(port, server, "the emulator")
        first = json.loads(_post_once(port, ENGAGEMENT_URL, body))
        same = session_url("", "demo", Session(first["visitorId"], first["sessionId"]))
        loads = {
            "distinct": (_http_post(port, ENGAGEMENT_URL, body), distinct),
            "repeated": (_http_post(port, same, body), repeated),
        }
        rows.append({"round": 0, "rss": _rss_bytes(server.pid), "requests": 0,
                     "errors": 0, "statuses": {}, "seconds": 0.0})
        for number in range(1, rounds + 1):
            results = [
                asyncio.run(load_generate("127.0.0.1", port, request, total=total,
                                          concurrency=concurrency, time_limit=120.0))
                for request, total in loads.values()
            ]
            rows.append({
                "round": number,
                "rss": _rss_bytes(server.pid),
                "requests": sum(r.requests for r in results),
                "errors": sum(r.errors for r in results),
                "statuses": _merge_statuses(r.statuses for r in results),
                "seconds": round(sum(r.seconds for r in results), 2),
            })
            row = rows[-1]
            print(f"[bench] soak round {number}: {row['requests']} checks in "
                  f"{row['seconds']} s, RSS {_fmt(row['rss'], 1e6, 1)} MB", flush=True)
    finally:
        _stop(server)
    return {"rounds": rounds, "distinct": distinct, "repeated": repeated, "sdes": 100,
            "concurrency": concurrency, "rows": rows}


def _post_once(port: int, path: str, body: bytes) -> bytes:
    """One request's answer body (the session the repeated checks go to)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_http_post(port, path, body).replace(
            b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.split(b"\r\n\r\n", 1)[1]


def _merge_statuses(many: Iterable[dict[int, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for statuses in many:
        for status, count in statuses.items():
            merged[str(status)] = merged.get(str(status), 0) + count
    return merged


# -- report ----------------------------------------------------------------------------------

LABELS = {
    "a": "(a) JS fetch (floor)",
    "b": "(b) naive Pyodide, main thread",
    "c": "(c) engage-web embed",
    "c2": "(c) second visit",
    "d": "(d) embed + snapshot (prototype)",
    "d2": "(d) second visit",
    "e2": "(e) second visit",
}
#: Labels once the shipped embed boots from its snapshot: (d) is then its fallback boot.
SHIPPED_SNAPSHOT_LABELS = {
    "c": "(c) engage-web embed (snapshot)",
    "d": "(d) = (c) without its snapshot",
    "d2": "(d) second visit",
}


def _fmt(value: float | None, scale: float = 1.0, digits: int = 0) -> str:
    return "-" if value is None else f"{value / scale:.{digits}f}"


def render(results: dict[str, Any]) -> str:
    """The printed report: the start-up table, ratios, then the other sections."""
    lines = []
    machine = results["machine"]
    lines.append(
        f"engage-web bench  {results['started']}  nproc {machine['nproc']}  "
        f"load {machine['loadavg_start']} -> {machine['loadavg_end']}  {machine['chromium']}"
    )
    startup = results.get("startup")
    if startup:
        labels = LABELS | (SHIPPED_SNAPSHOT_LABELS if startup.get("shipped_snapshot") else {})
        lines.append("")
        lines.append(
            f"{'start-up (cold context per run)':34} {'answer ms: median [min-max]':>28}  "
            f"{'long tasks ms':>13}  {'MB sent':>7}  {'heap MB main/worker':>19}  ok"
        )
        for key, row in startup["rows"].items():
            t = row["answer_ms"]
            lines.append(
                f"{labels.get(key, key):34} {_fmt(t['median']):>10} "
                f"[{_fmt(t['min'])}-{_fmt(t['max'])}]".ljust(47)
                + f"  {_fmt(row['long_tasks_ms']['median']):>13}"
                f"  {_fmt(row['bytes']['median'], 1e6, 2):>7}"
                f"  {_fmt(row['heap_main']['median'], 1e6, 1):>9}/"
                f"{_fmt(row['heap_worker']['median'], 1e6, 1):<9}"
                f"  {row['ok']}/{row['runs']}"
            )
        ratios = "  ".join(f"{k} = {_fmt(v, digits=3)}" for k, v in startup["ratios"].items())
        lines.append(f"ratios of median time to first answer: {ratios}")
    retry = results.get("retry")
    if retry:
        g, u = retry["gap_ms"], retry["gap_upper_bound_ms"]
        lines.append("")
        lines.append(
            f"retry timing ({g['n']} retries): onRetry -> attempt received, median "
            f"{_fmt(g['median'], digits=1)} ms, p95 {_fmt(g['p95'], digits=1)} ms, max "
            f"{_fmt(g['max'], digits=1)} ms (server-only upper bound: median "
            f"{_fmt(u['median'], digits=1)}, p95 {_fmt(u['p95'], digits=1)} ms)"
        )
        cpu = retry.get("cpu_while_waiting")
        if cpu:
            lines.append(
                f"browser CPU over {cpu['window_s']} s: idle page "
                f"{cpu['idle']['cpu_percent_all_processes']} %, waiting to retry "
                f"{cpu['waiting']['cpu_percent_all_processes']} % (all Chromium processes; "
                f"busiest {cpu['waiting']['cpu_percent_busiest_process']} %)"
            )
    kiosk = results.get("kiosk")
    if kiosk:
        g = kiosk["growth_bytes"]
        lines.append("")
        lines.append(
            f"long-running page: {kiosk['checks']} checks in {kiosk['seconds']} s; growth "
            f"page heap {_fmt(g['heap_main'], 1e6, 2)} MB, worker heap "
            f"{_fmt(g['heap_worker'], 1e6, 2)} MB, wasm {_fmt(g['wasm'], 1e6, 2)} MB, total "
            f"{_fmt(kiosk['growth_total_bytes'], 1e6, 2)} MB (target < 5 MB)"
        )
    tp = results.get("throughput")
    if tp:
        lines.append("")
        for name in ("minimal", "engagement"):
            row = tp[name]
            lines.append(
                f"throughput {name:10} {_fmt(row['rps']['median'])} req/s "
                f"[{_fmt(row['rps']['min'])}-{_fmt(row['rps']['max'])}]  p50 "
                f"{row['p50_ms']} ms  p99 {row['p99_ms']} ms  errors {row['errors']}  "
                f"statuses {row['statuses']}"
            )
        lines.append(
            "ratios: " + "  ".join(f"{k} = {v}" for k, v in tp["ratios"].items())
        )
    soak = results.get("soak")
    if soak:
        lines.append("")
        lines.append(
            f"emulator soak ({soak['distinct']} new visitors + {soak['repeated']} checks of one "
            f"session per round, {soak['sdes']} SDEs each, {soak['concurrency']} connections):"
        )
        lines.append("  " + "  ".join(
            f"{'before' if row['round'] == 0 else 'round ' + str(row['round'])} "
            f"{_fmt(row['rss'], 1e6, 1)} MB" for row in soak["rows"]
        ) + "  (RSS)")
        loaded = soak["rows"][1:]
        lines.append(
            f"  {sum(r['requests'] for r in loaded)} checks, errors "
            f"{sum(r['errors'] for r in loaded)}, statuses "
            f"{_merge_statuses({int(k): v for k, v in r['statuses'].items()} for r in loaded)}"
        )
    for note in results.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def _chromium_version() -> str:
    try:
        out = subprocess.run([str(CHROMIUM), "--version"], capture_output=True, text=True,
                             timeout=30)
        return out.stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"


def main(
    root: Path,
    runs: int = 5,
    out: str | Path = "bench-results/latest.json",
    *,
    sections: Sequence[str] = (
        "startup", "visit", "retry", "kiosk", "throughput", "engines", "soak",
    ),
) -> dict[str, Any]:
    """Run the benchmarks, print the report, write the JSON to ``out``; return the results.

    ``engines``: the embed's first answer in Chromium, Firefox and WebKit side by side
    (``tools/bench_engines.py``); ``soak``: the emulator's memory under load (:func:`bench_soak`).
    """
    from playwright.sync_api import sync_playwright

    from tools.devserver import ServerThread, create_dev_app

    root = Path(root)
    out_path = Path(out) if Path(out).is_absolute() else root / out
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "runs": runs,
        "machine": {
            "nproc": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "chromium": _chromium_version(),
            "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        },
        "notes": [],
    }
    if any(s in sections for s in ("startup", "visit", "retry", "kiosk")):
        site = prepare_site(root)
        results["notes"] += site.notes
        if site.snapshot is not None:
            results["snapshot"] = dataclasses.asdict(site.snapshot)
        counter = ByteCounter(
            _dispatch(_minimal_app(), create_dev_app(root, scenario=bench_scenario())),
        )
        with ServerThread(counter) as base, sync_playwright() as pw:
            browser = launch(pw)
            try:
                if "startup" in sections:
                    samples = bench_startup(pw, base, site, counter, runs)
                    results["startup"] = {
                        **startup_summary(samples),
                        "shipped_snapshot": site.shipped_has_snapshot,
                        "samples": samples,
                    }
                if "visit" in sections:
                    from tools import bench_visit

                    results["visit"] = bench_visit.run(pw, base, counter, runs, site.pages)
                if "retry" in sections:
                    results["retry"] = bench_retry(browser, base)
                if "kiosk" in sections:
                    results["kiosk"] = bench_kiosk(browser, base)
            finally:
                browser.close()
    if "throughput" in sections:
        results["throughput"] = bench_throughput(root)
    if "engines" in sections:
        from tools import bench_engines

        results["engines"] = bench_engines.run(root, runs)
    if "soak" in sections:
        results["soak"] = bench_soak(root)
    results["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(render(results), flush=True)
    if "visit" in results:
        from tools import bench_visit

        print(bench_visit.render(results["visit"]), flush=True)
    if "engines" in results:
        from tools import bench_engines

        print(bench_engines.render(results["engines"]), flush=True)
    print(f"[bench] JSON: {out_path}", flush=True)
    return results


if __name__ == "__main__":  # pragma: no cover - python -m tools.bench [runs] [sections...]
    main(
        Path(__file__).resolve().parents[1],
        runs=int(sys.argv[1]) if len(sys.argv) > 1 else 5,
        sections=sys.argv[2:] or ("startup", "retry", "kiosk", "throughput", "engines", "soak"),
    )
