"""Browser end-to-end fixtures: one headless Chromium per session, a fresh context per test.

The emulator and ``dist/`` are served on one loopback origin by ``tools.devserver`` (default
scenario, reset before every test). Test pages are served on that origin through Playwright
routing (``Probe.open``), so no page files are written to disk. Every page's console errors,
uncaught errors and unhandled rejections are collected and must be empty at the end of the
test, except for messages a test declares with ``probe.allow(regex)``. Requests that leave the
loopback origin fail the test (nothing may come from a CDN).

Never runs ``playwright install``: the browser is the system's ``/usr/bin/chromium``.
"""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tools.chromium import CHROMIUM, launch

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
#: Generous bound for one cold start: Pyodide boots in ~5 s, but took 36 s on a 2-core machine
#: busy with other test suites.
BOOT_TIMEOUT_MS = 120_000

# Installed before any page script: records unhandled rejections and main-thread long tasks.
INIT_SCRIPT = """
window.__rejections = [];
window.addEventListener("unhandledrejection", (e) => {
  window.__rejections.push(String(e.reason && (e.reason.stack || e.reason)));
});
window.__longTasks = [];
try {
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      window.__longTasks.push({start: entry.startTime, duration: entry.duration});
    }
  }).observe({type: "longtask", buffered: true});
} catch (e) { /* no longtask support */ }
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the ``browser`` tests last, after every other test of the session.

    Playwright's sync API keeps an asyncio loop marked as running in the main thread while the
    browser is open (one browser per session), and ``asyncio.run()`` refuses to start under it:
    unit tests collected after the browser tests would fail.
    """
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def dist_dir() -> Path:
    """``dist/`` as ``python3 build.py build`` makes it; rebuilt here (incrementally) if it can."""
    dist = ROOT / "dist"
    if (ROOT / "node_modules" / "pyodide" / "pyodide.mjs").exists():
        from tools.dist import build

        build(ROOT)
    elif not (dist / "engage.js").exists():
        pytest.fail("dist/ is missing: run `python3 build.py build` first")
    return dist


@pytest.fixture(scope="session")
def server(dist_dir: Path) -> Iterator[str]:
    """Base URL of the emulator + dist/ on one loopback origin."""
    from tools.devserver import ServerThread, create_dev_app

    thread = ServerThread(create_dev_app(ROOT))
    base_url = thread.start()
    try:
        yield base_url
    finally:
        thread.stop()


@pytest.fixture
def emulator(server: str) -> Iterator[Emulator]:
    """Control of the emulator, reset to the default scenario before the test."""
    with httpx.Client(base_url=server, timeout=10) as client:
        control = Emulator(client)
        control.reset()
        yield control


@dataclass
class Emulator:
    """The emulator's control routes (``/_emulator/...``)."""

    client: httpx.Client

    def reset(self) -> None:
        self.client.post("/_emulator/reset").raise_for_status()

    def fault(self, **fault: Any) -> None:
        self.client.post("/_emulator/faults", json=fault).raise_for_status()

    def requests(self, path_part: str = "/app/") -> list[dict[str, Any]]:
        log = self.client.get("/_emulator/requests").raise_for_status().json()["requests"]
        return [r for r in log if path_part in r.get("path", "")]

    def session(self, sid: str) -> dict[str, Any]:
        return self.client.get(f"/_emulator/sessions/{sid}").raise_for_status().json()

    def wait_for_updates(self, count: int, timeout: float = 60.0) -> list[dict[str, Any]]:
        """The update-session requests in the log, once there are ``count`` of them (polls the
        emulator: a worker's request is not always visible to the browser's event stream)."""
        deadline = time.monotonic() + timeout
        while True:
            updates = [r for r in self.requests("/visitors/") if r.get("route") == "update"]
            if len(updates) >= count or time.monotonic() > deadline:
                return updates
            time.sleep(0.05)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless system Chromium for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install the Debian package 'chromium'")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Probe:
    """A fresh browser context for one test, with pages whose problems are collected."""

    browser: Any
    base_url: str
    contexts: list[Any] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)
    console: list[str] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Declare console errors matching ``pattern`` as expected in this test."""
        self.allowed.append(re.compile(pattern))

    def new_context(self, **options: Any) -> Any:
        """A new, isolated browser context (a cold start: empty cache and storage)."""
        context = self.browser.new_context(**options)
        context.add_init_script(INIT_SCRIPT)
        context.on("request", self._check_origin)
        self.contexts.append(context)
        return context

    def _check_origin(self, request: Any) -> None:
        url = request.url
        if url.startswith(("data:", "blob:")):
            return
        if urlsplit(url).hostname not in ("127.0.0.1", "localhost"):
            self.problems.append(f"request left the loopback origin: {url}")

    def open(self, html: str, *, context: Any = None, path: str = "/test/page.html") -> Any:
        """Serve ``html`` at ``path`` on the server's origin and open it in a new page."""
        context = context or (self.contexts[0] if self.contexts else self.new_context())
        url = self.base_url + path
        context.route(
            url,
            lambda route: route.fulfill(
                status=200, content_type="text/html; charset=utf-8", body=html
            ),
        )
        page = context.new_page()
        self.watch(page)
        page.goto(url)
        return page

    def watch(self, page: Any) -> None:
        """Collect console errors and uncaught errors of ``page`` (its workers included)."""
        self.pages.append(page)
        page.set_default_timeout(BOOT_TIMEOUT_MS)

        def on_console(message: Any) -> None:
            self.console.append(f"{message.type}: {message.text}")
            if message.type == "error":
                self.problems.append(f"console.error: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))

    def unexpected(self) -> list[str]:
        """Problems not declared with :meth:`allow` (unhandled rejections included)."""
        found = list(self.problems)
        for page in self.pages:
            if not page.is_closed():
                found += [f"unhandledrejection: {r}" for r in page.evaluate("window.__rejections")]
        return [p for p in found if not any(a.search(p) for a in self.allowed)]

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def probe(browser: Any, server: str, emulator: Emulator) -> Iterator[Probe]:
    """A fresh context per test; fails the test on unexpected console errors or rejections."""
    probe = Probe(browser, server)
    try:
        yield probe
        problems = probe.unexpected()
        assert not problems, "unexpected problems in the page:\n" + "\n".join(problems)
    finally:
        probe.close()


def embed_page(
    *,
    endpoint: str | None = "/",
    account: str | None = "demo",
    attrs: str = "",
    head: str = "",
    body: str = "",
    tag_twice: bool = False,
) -> str:
    """A host page with the one-tag embed (served from the same origin as dist/)."""
    data = ""
    if endpoint is not None:
        data += f' data-endpoint="{endpoint}"'
    if account is not None:
        data += f' data-account-id="{account}"'
    tag = f'<script src="/engage.js"{data} {attrs}></script>'
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<link rel='icon' href='data:,'>"
        f"{head}{tag}{tag if tag_twice else ''}</head>"
        f"<body><h1>host page</h1>{body}</body></html>"
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_artifact(name: str, data: Any) -> Path:
    """Write ``data`` as JSON to ``test-artifacts/<name>``; return the path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path
