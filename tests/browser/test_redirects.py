"""Redirects from the endpoint are refused in the browser, never followed.

An engagement API never redirects. Following one would send the visitor's ids and SDEs to an
address nobody configured (a 307 even re-posts the body), possibly over plain ``http://``, where
the endpoint itself must be HTTPS. So the worker fetches with ``redirect: "manual"``: a 302 or a
307 ends the call with one Error outcome, code ``redirect``, not transient (time does not cure a
redirect), after one request, and nothing reaches the address it names. A report refused that
way is not kept in the outbox.

The endpoint here is the emulator behind a wrapper (``Redirecting``) that answers the engagement
routes with a redirect when told to, CORS headers included (so the browser hands the answer to
the page rather than calling it a network failure); a second server (``Counting``) stands for
the redirect's target and counts what reaches it. One page serves every case.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from engage_web.cpython.emulator.app import create_app
from tests.browser.conftest import embed_page
from tests.browser.hardening import RECORD_EVENTS, SharedPage
from tools.devserver import ServerThread

pytestmark = pytest.mark.browser

ENGAGEMENT = re.compile(r"/api/account/[^/]+/app/engagement/visitors(/[^/]+)?$")
CORS = [(b"access-control-allow-origin", b"*")]
IMPRESSION = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44}


@dataclass
class Counting:
    """An ASGI app that answers 200 to anything and records each request line."""

    seen: list[str] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.seen.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 200, "headers": CORS})
        await send({"type": "http.response.body", "body": b"{}"})


@dataclass
class Redirecting:
    """The emulator, except that while ``status`` is set, the engagement requests of ``stage``
    (``check``: the create-session POST; ``update``: a report's PUT) answer that redirect to
    ``location``. ``redirected`` records the request lines it answered so."""

    app: Any
    status: int | None = None
    location: str = ""
    stage: str = "check"
    redirected: list[str] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope.get("method")
        path = scope.get("path", "") if scope["type"] == "http" else ""
        match = ENGAGEMENT.search(path)
        stage = "update" if method == "PUT" else "check"
        if self.status is None or not match or method == "OPTIONS" or stage != self.stage:
            await self.app(scope, receive, send)
            return
        self.redirected.append(f"{method} {path}")
        headers = [*CORS, (b"location", self.location.encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": b""})


@dataclass
class Servers:
    endpoint: Redirecting
    endpoint_url: str
    target: Counting
    target_url: str


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    endpoint = Redirecting(create_app(cors_origins=["*"]))
    target = Counting()
    endpoint_thread, target_thread = ServerThread(endpoint), ServerThread(target)
    try:
        yield Servers(endpoint, endpoint_thread.start(), target, target_thread.start())
    finally:
        endpoint_thread.stop()
        target_thread.stop()


@pytest.fixture(scope="module")
def shared(browser: Any, server: str, servers: Servers) -> Iterator[SharedPage]:
    html = embed_page(
        endpoint=servers.endpoint_url, attrs='data-retry-preset="default"', body=RECORD_EVENTS
    )
    page = SharedPage.open(browser, server, html)
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def case(shared: SharedPage, servers: Servers) -> Iterator[SharedPage]:
    """A clean slate: no redirect, nothing counted, a visitor session with an answer."""
    servers.endpoint.status = None
    shared.begin(reset=False)
    answer = shared.check()
    assert answer["status"] in ("Available", "NotAvailable")
    shared.begin(reset=False)  # events of that check forgotten
    servers.endpoint.redirected.clear()
    servers.target.seen.clear()
    yield shared
    servers.endpoint.status = None
    shared.finish()


def _where(servers: Servers, kind: str) -> str:
    return {
        "same-origin": servers.endpoint_url + "/elsewhere/visitors",
        "cross-origin": servers.target_url + "/api/account/demo/app/engagement/visitors",
        "plain-http": "http://engage-web.example/api/account/demo/app/engagement/visitors",
    }[kind]


@pytest.mark.parametrize("status", [302, 307])
@pytest.mark.parametrize("kind", ["same-origin", "cross-origin", "plain-http"])
def test_a_redirected_check_is_one_error_after_one_request_and_nothing_follows_it(
    case: SharedPage, servers: Servers, status: int, kind: str
):
    """A check answered with a redirect ends at once with code "redirect" (not transient, not
    retried); the target is never asked (a request leaving loopback would fail the test)."""
    servers.endpoint.status, servers.endpoint.location = status, _where(servers, kind)
    servers.endpoint.stage = "check"

    outcome = case.check()

    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == "redirect"
    assert outcome["error"]["transient"] is False
    assert outcome["error"]["attempts"] == 1
    assert "redirects are not followed" in outcome["error"]["message"]
    assert len(servers.endpoint.redirected) == 1
    assert servers.target.seen == []
    assert case.events("onRetry") == []


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirected_report_is_refused_and_not_kept(
    case: SharedPage, servers: Servers, status: int
):
    """A report answered with a redirect (a 307 would re-post the SDEs) resolves with code
    "redirect" once, is not queued, and its body reaches nobody else."""
    servers.endpoint.status, servers.endpoint.location = status, _where(servers, "cross-origin")
    servers.endpoint.stage = "update"

    result = case.page.evaluate("(i) => ChatApi.report([i])", IMPRESSION)

    assert result["status"] == "Error"
    assert result["error"]["code"] == "redirect"
    assert result["error"]["transient"] is False
    assert result["delivered"] is False
    assert not result.get("queued")
    assert case.page.evaluate("ChatApi.queuedReports") == 0
    assert len(servers.endpoint.redirected) == 1
    assert servers.target.seen == []
