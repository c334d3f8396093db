"""Helpers for the hardening browser tests: one booted page shared by many cases, and servers
that can be taken down and brought back.

Booting Pyodide costs seconds of CPU per page, so the hardening tests boot one page per module
(``SharedPage``) and run their cases on it, each case starting from a clean slate: emulator
reset, problems and rejections cleared, events recorded afresh. ``OutageServer`` serves an
emulator on a fixed loopback port that a test can stop (connection refused) and start again with
its sessions intact; ``InFlight`` wraps an ASGI app and records how many public requests were
in flight at once (two concurrent watchers would show as 2)::

    shared = SharedPage.open(browser, server, embed_page(body=RECORD_EVENTS))
    shared.begin()                 # before each case
    outcome = shared.check({"consumerSections": ["Support"]})
    shared.finish()                # fails on unexpected console errors / rejections
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from engage_web.cpython.emulator.app import create_app
from engage_web.cpython.emulator.seed import seed_request
from tests.browser.conftest import BOOT_TIMEOUT_MS, Emulator, Probe
from tools.devserver import ServerThread

__all__ = [
    "FAST_RETRY",
    "RECORD_EVENTS",
    "SEED_PARAMS",
    "InFlight",
    "OutageServer",
    "SharedPage",
    "impression",
    "init_embed",
]

# The seed's example request without vid/sid: Available once the session is past its warm-up.
SEED_PARAMS: dict[str, Any] = seed_request()

# A retry policy that gives up quickly: the outage tests want a failure at once, not after 30 s.
FAST_RETRY = {"retries": 1, "backoffInitialMs": 50, "backoffMaxMs": 100, "notAvailableRechecks": 0}


def impression(revision: int) -> dict[str, Any]:
    """An impression SDE (``impDisplay``) told apart from others by its ``revision``."""
    return {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110,
            "revision": revision}


def init_embed(page: Any, endpoint: str) -> None:
    """Configure an embed without ``data-endpoint`` for ``endpoint`` (account ``demo``,
    :data:`FAST_RETRY`) and return once its runtime is up (``onReady``)."""
    page.evaluate(
        """(config) => new Promise((resolve) => {
          ChatApi.bind("onReady", function once() { ChatApi.unbind("onReady", once); resolve(); });
          ChatApi.init(config);
        })""",
        {"endpoint": endpoint, "accountId": "demo", "retry": FAST_RETRY},
    )


# Page script (after the tag): records every event into window.__events (reset by begin()).
RECORD_EVENTS = """<script>
  window.__events = {onEngagement: [], onRetry: [], onReady: []};
  ["onEngagement", "onRetry", "onReady"].forEach(function (name) {
    ChatApi.bind(name, function (payload) { window.__events[name].push(payload); });
  });
</script>"""


@dataclass
class SharedPage:
    """One booted embed page reused by many test cases (see the module docstring)."""

    probe: Probe
    page: Any
    emulator: Emulator
    baseline: int = 0

    @classmethod
    def open(cls, browser: Any, server: str, html: str, **context_options: Any) -> SharedPage:
        probe = Probe(browser, server)
        context = probe.new_context(**context_options)
        page = probe.open(html, context=context)
        page.wait_for_function("window.ChatApi && ChatApi.ready", timeout=BOOT_TIMEOUT_MS)
        emulator = Emulator(httpx.Client(base_url=server, timeout=30))
        return cls(probe, page, emulator)

    def begin(self, *allowed: str, reset: bool = True) -> None:
        """Start a case: emulator reset (sessions, faults, log), events and problems forgotten.

        With ``reset=False`` the emulator keeps its sessions; only the request log's current
        length is remembered, so :meth:`requests` returns what came after.
        """
        if reset:
            self.emulator.reset()
        self.baseline = len(self.emulator.requests(""))
        self.probe.problems.clear()
        self.probe.allowed.clear()
        for pattern in allowed:
            self.probe.allow(pattern)
        self.page.evaluate(
            "window.__rejections = []; "
            "if (window.__events) Object.keys(window.__events).forEach("
            "  (k) => { window.__events[k] = []; });"
        )

    def finish(self) -> None:
        """End a case: no console error or unhandled rejection beyond the allowed ones."""
        problems = self.probe.unexpected()
        assert not problems, "unexpected problems in the page:\n" + "\n".join(problems)

    def init(self, config: dict[str, Any]) -> None:
        """``ChatApi.init(config)`` and wait for the worker's ``ready`` for that config."""
        self.page.evaluate(
            """(config) => new Promise((resolve) => {
              const done = () => { ChatApi.unbind("onReady", done); resolve(); };
              ChatApi.bind("onReady", done);
              ChatApi.init(config);
            })""",
            config,
        )

    def check(self, params: Any = None) -> dict[str, Any]:
        """``await ChatApi.getEngagement(params)`` in the page."""
        return self.page.evaluate(
            "(params) => ChatApi.getEngagement(params)", SEED_PARAMS if params is None else params
        )

    def requests(self, path_part: str = "/engagement") -> list[dict[str, Any]]:
        """The public requests the emulator logged since :meth:`begin`."""
        log = self.emulator.requests("")[self.baseline :]
        return [entry for entry in log if path_part in entry.get("path", "")]

    def events(self, name: str) -> list[Any]:
        return self.page.evaluate(f"window.__events.{name}")

    def close(self) -> None:
        self.emulator.client.close()
        self.probe.close()


class OutageServer:
    """An emulator (CORS open to loopback pages) on a fixed port, stopped and started at will.

    The app object, and so its sessions, survive a stop; only the socket goes away, so the
    browser sees "connection refused" while it is down.
    """

    def __init__(self, app: Any = None) -> None:
        self.app = app if app is not None else create_app(cors_origins=["*"])
        self._thread: ServerThread | None = ServerThread(self.app)
        self.base_url = self._thread.start()
        self.port = int(self.base_url.rsplit(":", 1)[1])

    @property
    def up(self) -> bool:
        return self._thread is not None

    def stop(self) -> None:
        if self._thread is not None:
            self._thread.stop()
            self._thread = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = ServerThread(self.app, port=self.port)
            self._thread.start()

    def control(self) -> Emulator:
        """Control routes of this emulator (only while it is up)."""
        return Emulator(httpx.Client(base_url=self.base_url, timeout=30))


@dataclass
class InFlight:
    """ASGI middleware counting concurrent public requests, per kind: ``engagement`` (create
    session, a ``POST``) and ``report`` (update session, a ``PUT`` or an overridden ``POST``)."""

    app: Any
    current: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    total: dict[str, int] = field(default_factory=dict)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        method = scope.get("method")
        if not re.search(r"/app/engagement/visitors(/[^/]+)?$", path) or method == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        update = method == "PUT" or headers.get(b"x-http-method-override", b"").upper() == b"PUT"
        kind = "report" if update else "engagement"
        self.current[kind] = self.current.get(kind, 0) + 1
        self.total[kind] = self.total.get(kind, 0) + 1
        self.peak[kind] = max(self.peak.get(kind, 0), self.current[kind])
        try:
            await self.app(scope, receive, send)
        finally:
            self.current[kind] -= 1
            await asyncio.sleep(0)
