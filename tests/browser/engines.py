"""One page API over the three engines a visitor uses, for the cross-engine browser suite.

Chromium runs on Playwright (the session's ``browser``, a fresh context per test); Firefox ESR
and WebKitGTK run on Selenium (``tools/browsers.py``), one browser per engine for the whole
session, its storage cleared before each test. A test gets an :class:`EngineSession` from the
``engine`` fixture (parametrized over :data:`ENGINES`, each value marked ``chromium``,
``firefox`` or ``webkit``, so ``-m webkit`` runs one engine) and drives pages through
:class:`EnginePage`: ``js`` runs a function body (``arguments[0]``..., may return a Promise,
which is awaited), ``wait_until`` waits on a JS condition with a timeout, and ``click``,
``text``, ``visible`` act on CSS selectors.

What a page logs is collected two ways, and a test fails on anything it did not declare with
``engine.allow(regex)``:

- the page's own records: :data:`RECORDS_JS`, which :class:`EngineSite` puts first in every
  HTML page it serves, keeps ``console.error`` calls, uncaught errors, unhandled rejections and
  CSP violations in ``window.__records``; the one source in WebKit, whose WebDriver has no BiDi
  and passes no console through;
- the engine's own events where it has them: Playwright's console and page errors (workers
  included) in Chromium; WebDriver BiDi ``log.entryAdded`` in Firefox (workers included).

Requests that leave the loopback origin fail the test where the engine reports requests:
Playwright's ``request`` events in Chromium, BiDi ``network.beforeRequestSent`` in Firefox
(workers included). WebKit cannot tell (no BiDi); the machine has no other network anyway.

Pages are served by :class:`EngineSite`, an ASGI wrapper around the dev app (``dist/`` plus the
emulator on one loopback origin): test pages and scripts registered by the test under
``/xtest/``, optional headers on every answer (a strict CSP), a replacement body for a path
(a broken snapshot) and a count of requests per path.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import BOOT_TIMEOUT_MS, ROOT, Emulator
from tools import browsers

__all__ = [
    "ENGINES",
    "FIXTURES",
    "ICON",
    "RECORDS_JS",
    "EnginePage",
    "EngineSession",
    "EngineSite",
    "SiteServer",
]

#: The fixture functions a test module imports (pytest finds fixtures by their ``name``).
FIXTURES = ("engine_fixture", "engine_server_fixture", "selenium_engines_fixture")

#: Each engine as a pytest parameter carrying its marker.
ENGINES = [pytest.param(name, marks=getattr(pytest.mark, name), id=name)
           for name in browsers.ENGINES]

#: Seconds a page may take to answer: a cold Pyodide boot plus a warm-up retry on a busy machine.
ANSWER_TIMEOUT_S = BOOT_TIMEOUT_MS / 1000

RECORDS_PATH = "/__engines/records.js"
BLANK_PATH = "/__engines/blank.html"
#: An empty icon from 'self' (a data: icon would break a strict CSP's img-src).
ICON_PATH = "/__engines/icon"
ICON = f"<link rel='icon' href='{ICON_PATH}'>"

#: The page's own records, loaded first in every HTML page (an external script, so it also runs
#: under a strict CSP). Worker consoles are not visible from here; see the module docstring.
RECORDS_JS = """(function () {
  if (window.__records) return;
  var records = window.__records = [];
  function text(value) {
    try { return String(value && (value.stack || value.message) || value); }
    catch (e) { return "(unprintable)"; }
  }
  var consoleError = console.error;
  console.error = function () {
    records.push("console.error: " + Array.prototype.map.call(arguments, text).join(" "));
    return consoleError.apply(this, arguments);
  };
  window.addEventListener("error", function (e) {
    records.push("pageerror: " + (e.message || text(e.error)));
  });
  window.addEventListener("unhandledrejection", function (e) {
    records.push("unhandledrejection: " + text(e.reason));
  });
  document.addEventListener("securitypolicyviolation", function (e) {
    records.push("csp: " + e.violatedDirective + " " + e.blockedURI);
  });
})();
"""

_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


class EngineSite:
    """ASGI wrapper: test pages under ``/xtest/``, the records script put into every HTML page,
    optional extra headers on every answer, replaced bodies, and a count of requests by path.
    """

    def __init__(self, app: Any, *, headers: dict[str, str] | None = None) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.files: dict[str, tuple[str, bytes]] = {}
        self.replaced: dict[str, bytes] = {}
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def page(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path`` (under ``/xtest/``); return the path."""
        self.files[path] = ("text/html; charset=utf-8", html.encode())
        return path

    def script(self, path: str, source: str) -> str:
        """Serve JavaScript ``source`` at ``path`` (under ``/xtest/``); return the path."""
        self.files[path] = ("text/javascript", source.encode())
        return path

    def replace(self, path: str, body: bytes) -> None:
        """Answer ``path`` (a file of dist/) with ``body`` instead, same headers otherwise."""
        self.replaced[path] = body

    def reset(self) -> None:
        with self._lock:
            self.files.clear()
            self.replaced.clear()
            self.hits.clear()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        with self._lock:
            self.hits[path] += 1
        if path == RECORDS_PATH:
            await self._answer(send, "text/javascript", RECORDS_JS.encode())
            return
        if path == BLANK_PATH:
            await self._answer(send, "text/html; charset=utf-8", b"<!doctype html><title>-</title>")
            return
        if path in (ICON_PATH, "/favicon.ico"):
            await send({"type": "http.response.start", "status": 204, "headers": self.headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if path in self.files:
            await self._answer(send, *self.files[path])
            return
        await self.app(scope, receive, self._sender(send, path))

    async def _answer(self, send: Any, content_type: str, body: bytes) -> None:
        if content_type.startswith("text/html"):
            body = _with_records(body)
        headers = [(b"content-type", content_type.encode()), (b"cache-control", b"no-store"),
                   (b"content-length", str(len(body)).encode()), *self.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _sender(self, send: Any, path: str) -> Callable[[Any], Any]:
        """Add the extra headers; buffer HTML (to add the records script) and replaced bodies."""
        state: dict[str, Any] = {"start": None, "chunks": []}
        replaced = self.replaced.get(path)

        async def sender(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() not in {h for h, _ in self.headers}]
                content_type = dict(headers).get(b"content-type", b"")
                html = content_type.startswith(b"text/html") and message.get("status") == 200
                if not html and replaced is None:
                    await send({**message, "headers": headers + self.headers})
                    return
                state["start"] = {**message, "headers": headers + self.headers}
                state["html"] = html
                return
            if message["type"] != "http.response.body" or state["start"] is None:
                await send(message)
                return
            state["chunks"].append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = replaced if replaced is not None else b"".join(state["chunks"])
            if state["html"]:
                body = _with_records(body)
            start = state["start"]
            start["headers"] = [
                (k, v) for k, v in start["headers"] if k.lower() != b"content-length"
            ]
            start["headers"].append((b"content-length", str(len(body)).encode()))
            await send(start)
            await send({"type": "http.response.body", "body": body})

        return sender


def _with_records(body: bytes) -> bytes:
    tag = f'<script src="{RECORDS_PATH}"></script>'.encode()
    match = _HEAD.search(body)
    if match is None:
        return tag + body
    return body[: match.end()] + tag + body[match.end() :]


@dataclass
class SiteServer:
    """An :class:`EngineSite` over the dev app, served on its own loopback port."""

    site: EngineSite
    base_url: str
    thread: Any

    @classmethod
    def start(cls, *, headers: dict[str, str] | None = None) -> SiteServer:
        from tools.devserver import ServerThread, create_dev_app

        site = EngineSite(create_dev_app(ROOT), headers=headers)
        thread = ServerThread(site)
        return cls(site, thread.start(), thread)

    def emulator(self) -> Emulator:
        return Emulator(httpx.Client(base_url=self.base_url, timeout=30))

    def stop(self) -> None:
        self.thread.stop()


# -- pages -----------------------------------------------------------------------------------


class EnginePage:
    """One page in one engine, through one small API (see the module docstring)."""

    engine: str
    base_url: str

    def goto(self, url: str) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        raise NotImplementedError

    def js(self, body: str, *args: Any) -> Any:
        """Run a function body in the page (``arguments[i]``); a returned Promise is awaited."""
        raise NotImplementedError

    def click(self, selector: str) -> None:
        raise NotImplementedError

    def text(self, selector: str) -> str:
        return self.js(
            "const el = document.querySelector(arguments[0]); return el ? el.textContent : null;",
            selector,
        )

    def visible(self, selector: str) -> bool:
        """The element exists, is not ``hidden`` and takes space (what a visitor can see)."""
        return bool(self.js(
            "const el = document.querySelector(arguments[0]);"
            "if (!el || el.closest('[hidden]')) return false;"
            "const box = el.getBoundingClientRect(); return box.width > 0 && box.height > 0;",
            selector,
        ))

    def wait_until(self, condition: str, what: str, timeout_s: float = ANSWER_TIMEOUT_S) -> Any:
        """Wait until the JS expression ``condition`` is truthy; return its value.

        Polls every 100 ms (a condition, not a fixed sleep); fails naming ``what`` on timeout.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            value = self.js(f"try {{ return ({condition}); }} catch (e) {{ return null; }}")
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.engine}: timed out after {timeout_s:.0f} s "
                                     f"waiting for {what} ({condition})")
            time.sleep(0.1)

    def wait_visible(self, selector: str, timeout_s: float = ANSWER_TIMEOUT_S) -> None:
        self.wait_until(
            "(() => { const el = document.querySelector(" + _js_string(selector) + ");"
            "if (!el || el.closest('[hidden]')) return false;"
            "const box = el.getBoundingClientRect(); return box.width > 0 && box.height > 0; })()",
            f"{selector} to be visible",
            timeout_s,
        )

    def records(self) -> list[str]:
        """The page's own records (``window.__records``)."""
        return list(self.js("return window.__records || [];") or [])


def _js_string(text: str) -> str:
    import json

    return json.dumps(text)


class PlaywrightPage(EnginePage):
    """A Chromium page of a Playwright (sync) context."""

    def __init__(self, page: Any, base_url: str) -> None:
        self.engine = "chromium"
        self.page = page
        self.base_url = base_url
        page.set_default_timeout(BOOT_TIMEOUT_MS)

    def goto(self, url: str) -> None:
        self.page.goto(url)

    def reload(self) -> None:
        self.page.reload()

    def js(self, body: str, *args: Any) -> Any:
        return self.page.evaluate(
            "(args) => (async function () {" + body + "\n}).apply(null, args)", list(args)
        )

    def click(self, selector: str) -> None:
        self.page.locator(selector).click()


class SeleniumPage(EnginePage):
    """The one window of a Selenium session (Firefox or WebKit)."""

    def __init__(self, engine: str, driver: Any, base_url: str) -> None:
        self.engine = engine
        self.driver = driver
        self.base_url = base_url
        driver.set_script_timeout(ANSWER_TIMEOUT_S)

    def goto(self, url: str) -> None:
        self.driver.get(url)

    def reload(self) -> None:
        self.driver.refresh()

    def js(self, body: str, *args: Any) -> Any:
        # Selenium runs the body as a plain function: an async wrapper lets it `await`.
        return self.driver.execute_script(
            "return (async function () {" + body + "\n}).apply(null, arguments);", *args
        )

    def click(self, selector: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver.find_element(By.CSS_SELECTOR, selector).click()


# -- the engine of one test ------------------------------------------------------------------


@dataclass
class EngineSession:
    """What a test sees of its engine: open pages, declare expected messages, read problems."""

    name: str
    server: SiteServer
    opener: Callable[[str], EnginePage]
    native: list[str]
    allowed: list[re.Pattern[str]] = field(default_factory=list)
    pages: list[EnginePage] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def site(self) -> EngineSite:
        return self.server.site

    def allow(self, pattern: str) -> None:
        """Declare console errors matching ``pattern`` as expected in this test."""
        self.allowed.append(re.compile(pattern))

    def open(self, path_or_url: str) -> EnginePage:
        """Open a path of the test site (or an absolute loopback URL) in a page."""
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        host = urlsplit(url).hostname
        assert host in ("127.0.0.1", "localhost"), f"not a loopback URL: {url}"
        page = self.opener(url)
        self.pages.append(page)
        return page

    def unexpected(self) -> list[str]:
        found = list(self.native)
        for page in self.pages:
            try:
                found += page.records()
            except Exception as exc:  # the page went away: say so rather than hide it
                found.append(f"records unreadable: {type(exc).__name__}: {exc}")
        return [p for p in found if not any(a.search(p) for a in self.allowed)]


class _SeleniumEngine:
    """A Selenium browser for the whole session; its console (BiDi, Firefox only) collected."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.display: browsers.Xvfb | None = None
        self.native: list[str] = []
        if name == "webkit":
            self.display = browsers.Xvfb()
            self.driver = browsers.launch_webkit(self.display.start())
        else:
            self.driver = browsers.launch_firefox()
            self.driver.script.add_console_message_handler(self._on_console)
            self.driver.script.add_javascript_error_handler(
                lambda entry: self.native.append(f"pageerror: {entry.text}")
            )
            self.driver.network.add_event_handler("before_request_sent", self._on_request)

    def _on_console(self, entry: Any) -> None:
        if entry.level == "error":
            self.native.append(f"console.error: {entry.text}")

    def _on_request(self, params: Any) -> None:
        """BiDi ``network.beforeRequestSent`` (the page's and its workers' requests)."""
        request = params.get("request") if isinstance(params, dict) else None
        url = request.get("url", "") if isinstance(request, dict) else ""
        if url.startswith(("http:", "https:", "ws:", "wss:")) and urlsplit(url).hostname not in (
            "127.0.0.1", "localhost"):
            self.native.append(f"request left the loopback origin: {url}")

    def fresh(self, base_url: str) -> None:
        """Leave the last test's page (its worker stops) and clear the site's storage."""
        self.driver.get(base_url + BLANK_PATH)
        self.driver.execute_script("localStorage.clear(); sessionStorage.clear();")
        self.native.clear()

    def close(self) -> None:
        try:
            self.driver.quit()
        finally:
            if self.display is not None:
                self.display.stop()


@pytest.fixture(scope="session", name="engine_server")
def engine_server_fixture(pages: Path) -> Iterator[SiteServer]:
    """The test site (dist/ with the demo and kiosk pages, and the emulator) for every engine."""
    server = SiteServer.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", name="selenium_engines")
def selenium_engines_fixture() -> Iterator[dict[str, _SeleniumEngine]]:
    """Firefox and WebKit, each started on first use and kept for the session."""
    started: dict[str, _SeleniumEngine] = {}
    try:
        yield started
    finally:
        for engine in started.values():
            engine.close()


@pytest.fixture(params=ENGINES, name="engine")
def engine_fixture(
    request: pytest.FixtureRequest,
    engine_server: SiteServer,
    selenium_engines: dict[str, _SeleniumEngine],
) -> Iterator[EngineSession]:
    """One engine for one test, the site's emulator reset; fails on unexpected problems."""
    name = request.param
    reason = browsers.missing(name)
    if reason:
        pytest.fail(f"{name}: {reason} (python3 build.py test installs it)")
    engine_server.site.reset()
    control = engine_server.emulator()
    try:
        control.reset()
    finally:
        control.client.close()
    if name == "chromium":
        browser = request.getfixturevalue("browser")
        context = browser.new_context()
        native: list[str] = []

        def on_request(req: Any) -> None:
            if not req.url.startswith(("data:", "blob:")) and urlsplit(req.url).hostname not in (
                "127.0.0.1", "localhost"):
                native.append(f"request left the loopback origin: {req.url}")

        context.on("request", on_request)

        def open_chromium(url: str) -> EnginePage:
            page = context.new_page()
            page.on("console", lambda m: native.append(f"console.error: {m.text}")
                    if m.type == "error" else None)
            page.on("pageerror", lambda error: native.append(f"pageerror: {error}"))
            page.goto(url)
            return PlaywrightPage(page, engine_server.base_url)

        session = EngineSession(name, engine_server, open_chromium, native)
        try:
            yield session
            _assert_quiet(session)
        finally:
            context.close()
        return
    if name not in selenium_engines:
        try:
            selenium_engines[name] = _SeleniumEngine(name)
        except browsers.BrowserMissing as exc:
            pytest.fail(f"{name}: {exc}")
    driver_engine = selenium_engines[name]
    driver_engine.fresh(engine_server.base_url)
    opened: list[SeleniumPage] = []

    def open_selenium(url: str) -> EnginePage:
        if opened:
            raise AssertionError(f"{name}: one page per test in a Selenium engine")
        page = SeleniumPage(name, driver_engine.driver, engine_server.base_url)
        opened.append(page)
        page.goto(url)
        return page

    session = EngineSession(name, engine_server, open_selenium, driver_engine.native)
    try:
        yield session
        _assert_quiet(session)
    finally:
        driver_engine.driver.get("about:blank")   # stop the page and its worker


def _assert_quiet(session: EngineSession) -> None:
    problems = session.unexpected()
    assert not problems, f"{session.name}: unexpected problems in the page:\n" + "\n".join(problems)
