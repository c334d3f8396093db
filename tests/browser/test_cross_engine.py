"""What a visitor depends on, in every engine a visitor uses: Chromium, Firefox and WebKit.

Each test body runs once per engine (the ``engine`` fixture of ``tests/browser/engines.py``,
marked ``chromium``, ``firefox`` or ``webkit``: ``python3 build.py test -- -m webkit`` runs one
engine). Tests drive the page API (``window.ChatApi``, its events and outcomes) and the
emulator's ``/_emulator/`` control routes, never the engagement endpoint's URLs, and wait on
conditions, never on sleeps. A failure in one engine is a bug of the product, not of the test.

The embed must also boot from the build's memory snapshot in every engine: a snapshot that
restored only in the engine that made it would cost WebKit visitors seconds on every first
visit (``onReady`` says how the worker booted).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from engage_web.cpython.emulator.seed import seed_request
from tests.browser.engines import (  # the fixtures: engine, engine_server, selenium_engines
    ICON,
    EngineSession,
    SiteServer,
    engine_fixture,  # noqa: F401
    engine_server_fixture,  # noqa: F401
    selenium_engines_fixture,  # noqa: F401
)
from tests.browser.pages_fixtures import pages  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

SEED = seed_request()
#: Network errors as each engine words them (a dropped connection during an outage).
NETWORK_LOG = r"Failed to fetch|Failed to load resource|net::ERR_|NetworkError|Load failed"
#: The strict policy a host page may use with the embed (README, SECURITY.md).
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
FAST = {"retries": 1, "backoffInitialMs": 50, "backoffMaxMs": 100, "notAvailableRechecks": 0}

# Page script after the tag: records every event in window.__events, checks the seed request.
EVENTS_JS = """
window.__events = {onEngagement: [], onRetry: [], onReady: []};
["onEngagement", "onRetry", "onReady"].forEach(function (name) {
  ChatApi.bind(name, function (payload) { window.__events[name].push(payload); });
});
"""
CHECK_JS = f"ChatApi.getEngagement({json.dumps(SEED)});\n"


def embed_page(engine: EngineSession, *, check: bool = True, tag: str | None = None,
               extra: str = "") -> str:
    """Serve a host page with the one tag, the events recorder and (``check``) a check on load."""
    site = engine.site
    site.script("/xtest/events.js", EVENTS_JS)
    site.script("/xtest/check.js", CHECK_JS)
    tag = tag or '<script src="/engage.js" data-endpoint="/" data-account-id="demo"></script>'
    scripts = tag + '<script src="/xtest/events.js"></script>'
    if check:
        scripts += '<script src="/xtest/check.js"></script>'
    return site.page(
        "/xtest/page.html",
        f"<!doctype html><html><head><meta charset='utf-8'>{ICON}"
        f"{extra}{scripts}</head><body><h1>host page</h1></body></html>",
    )


def first_outcome(page: Any) -> dict[str, Any]:
    return page.wait_until("window.__events && window.__events.onEngagement[0]",
                           "the first onEngagement")


def init(page: Any, endpoint: str = "/") -> None:
    """``ChatApi.init`` with fast retries, and wait for the worker's ``ready``."""
    page.js(
        """return new Promise((resolve) => {
          ChatApi.bind("onReady", function once() { ChatApi.unbind("onReady", once); resolve(); });
          ChatApi.init(arguments[0]);
        });""",
        {"endpoint": endpoint, "accountId": "demo", "retry": FAST},
    )


def impression(n: int) -> dict[str, Any]:
    return {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": n}


def test_the_one_tag_embed_answers_available_after_a_timed_retry(engine: EngineSession):
    """The seed request warms up NotAvailable, is re-checked on a timer, then answers Available
    with TestSkill; the worker booted from the build's memory snapshot."""
    page = engine.open(embed_page(engine))
    outcome = first_outcome(page)

    assert outcome["status"] == "Available", outcome
    assert outcome["engagementDetails"]["skillName"] == "TestSkill"
    retries = page.js("return window.__events.onRetry")
    assert [r["reason"] for r in retries] == ["NotAvailable"]
    assert retries[0]["delayMs"] >= 500
    ready = page.js("return window.__events.onReady")
    assert [r["bootKind"] for r in ready] == ["snapshot"], ready
    assert page.js("return ChatApi.ready") is True


def test_the_visitor_session_is_reused_across_a_reload(engine: EngineSession):
    """After a reload the visitor keeps its visitor and session ids, and being past the warm-up
    the answer comes at once, with no retry."""
    page = engine.open(embed_page(engine))
    before = first_outcome(page)
    assert before["status"] == "Available", before

    page.reload()
    after = first_outcome(page)

    assert after["status"] == "Available", after
    assert (after["visitorId"], after["sessionId"]) == (before["visitorId"], before["sessionId"])
    assert page.js("return window.__events.onRetry") == []


def test_a_report_is_delivered_and_kept_through_an_outage_and_a_reload(engine: EngineSession):
    """A report is recorded on the session; one made while the endpoint drops connections is
    queued, survives a reload, and arrives once, after the first, when the endpoint is back."""
    engine.allow(NETWORK_LOG)
    page = engine.open(embed_page(engine, check=False, tag='<script src="/engage.js"></script>'))
    init(page)
    check = "return ChatApi.getEngagement(arguments[0])"
    page.js(check, SEED)                       # the warm-up: NotAvailable (no re-check here)
    answer = page.js(check, SEED)
    assert answer["status"] == "Available", answer   # the engagement the impression is about
    delivered = page.js("return ChatApi.report(arguments[0])", [impression(1)])
    assert delivered["status"] == "Reported", delivered

    control = engine.server.emulator()
    try:
        control.fault(count=1000, mode="drop")
        queued = page.js("return ChatApi.report(arguments[0])", [impression(2)])
        assert (queued["status"], queued["queued"]) == ("Error", True), queued
        assert page.js("return ChatApi.queuedReports") == 1

        page.reload()
        init(page)
        assert page.js("return ChatApi.queuedReports") == 1   # kept through the reload

        control.client.delete("/_emulator/faults").raise_for_status()
        page.js(check, SEED)                   # an answer: the outbox is flushed
        page.wait_until("ChatApi.queuedReports === 0", "the queued report to be delivered")
        recorded = control.session(answer["sessionId"])["impressions"]
    finally:
        control.client.close()
    impressions = [sde["revision"] for sde in recorded if sde.get("type") == "impDisplay"]
    assert impressions == [1, 2]


def test_an_invalid_request_answers_an_error_naming_the_field(engine: EngineSession):
    """An unsupported ``appDetails.os`` resolves with a 400 Error outcome naming the field and
    the allowed values, and nothing is sent to the endpoint."""
    page = engine.open(embed_page(engine, check=False))
    outcome = page.js(
        "return ChatApi.getEngagement(arguments[0])",
        {"consumerSections": ["Support"], "appDetails": {"os": "BEOS"}},
    )

    assert outcome["status"] == "Error", outcome
    assert outcome["error"]["code"] == 400
    assert outcome["error"]["field"] == "appDetails.os"
    assert "LINUX" in outcome["error"]["message"]
    assert page.js("return window.__events.onEngagement.length") == 1
    control = engine.server.emulator()
    try:
        assert control.requests("") == []   # no public request at all
    finally:
        control.client.close()


def test_the_embed_works_under_a_strict_content_security_policy(engine: EngineSession):
    """With the strict policy on the page and on every file (worker and runtime included), the
    embed answers Available from its snapshot and violates nothing; an inline script on the
    same page is blocked, so the policy was really applied."""
    engine.allow(r"Content Security Policy|Content-Security-Policy|Refused to execute|inline")
    policed = SiteServer.start(headers={"Content-Security-Policy": CSP})
    try:
        policed.site.script("/xtest/events.js", EVENTS_JS)
        policed.site.script("/xtest/check.js", CHECK_JS)
        policed.site.page(
            "/xtest/csp.html",
            f"<!doctype html><html><head><meta charset='utf-8'>{ICON}"
            "<script>window.__inline = true;</script>"
            "<script src='/engage.js' data-endpoint='/' data-account-id='demo'></script>"
            "<script src='/xtest/events.js'></script><script src='/xtest/check.js'></script>"
            "</head><body><h1>strict host page</h1></body></html>",
        )
        page = engine.open(policed.base_url + "/xtest/csp.html")
        outcome = first_outcome(page)

        assert outcome["status"] == "Available", outcome
        assert [r["bootKind"] for r in page.js("return window.__events.onReady")] == ["snapshot"]
        assert page.js("return window.__inline === undefined") is True
        violations = [r for r in page.records() if r.startswith("csp: ")]
        assert len(violations) == 1, violations
        assert "inline" in violations[0], violations
        hits = policed.site.hits
        assert hits["/engage-worker.mjs"] >= 1
        assert hits["/pyodide/pyodide.mjs"] >= 1
    finally:
        policed.stop()


def test_the_kiosk_button_follows_agents_leaving_and_returning(engine: EngineSession):
    """On the kiosk page the chat button shows while TestSkill has agents, hides with a notice
    when none is left, and comes back with them (the page's watch, re-checking every second)."""
    page = engine.open("/kiosk.html?interval=1&sections=Support")
    page.wait_visible("#kiosk-button")
    assert page.text("#kiosk-button") == "Chat with TestSkill"

    control = engine.server.emulator()
    try:
        control.client.post("/_emulator/skills/23", json={"agentsOnline": 0}).raise_for_status()
        page.wait_until("document.querySelector('#kiosk-title').textContent"
                        " === 'No agents right now'", "the no-agents notice", 30)
        assert not page.visible("#kiosk-button")

        control.client.post("/_emulator/skills/23", json={"agentsOnline": 2}).raise_for_status()
        page.wait_visible("#kiosk-button", 30)
    finally:
        control.client.close()
    assert page.js("return document.querySelector('#kiosk').dataset.state") == "available"


def test_the_demo_shows_a_retry_then_an_engagement_button(engine: EngineSession):
    """On the demo page, Check engagement shows the warm-up retry in the timeline, then the
    chat button for TestSkill."""
    page = engine.open("/")
    page.wait_until("window.ChatApi && ChatApi.ready", "the engine to start")
    page.click("#check-button")
    page.wait_visible("#engagement-slot .engagement-button")

    assert page.text("#engagement-slot .engagement-button") == "Chat with TestSkill"
    kinds = page.js("return [...document.querySelectorAll('#timeline li')]"
                    ".map((li) => li.dataset.kind)")
    assert kinds.index("start") < kinds.index("retry") < kinds.index("Available"), kinds
    assert page.text("#outcome-badge") == "Available"


def test_a_snapshot_that_cannot_be_restored_costs_no_second_download(
    engine: EngineSession, dist_dir: Path
):
    """When the snapshot passes its checks but fails to restore, the worker boots normally and
    still answers, reusing the runtime files it already fetched: each is requested once. (The
    site's engage-config.mjs pins the hashes of the damaged snapshot and of its gzip copy, so
    both pass their integrity checks; Pyodide's own restore then fails on its JSON state.)"""
    from tools.integrity import sri, sri_file
    from tools.snapshot import load_manifest

    info = load_manifest(dist_dir)
    assert info is not None, "dist/ ships no current memory snapshot"
    raw = (dist_dir / info.file).read_bytes()
    damaged = raw[:48] + b"}" + raw[49:]   # Pyodide's JSON state, which its restore parses
    damaged_gz = gzip.compress(damaged, 1)   # the copy a server sending files raw leads to
    config = (dist_dir / "engage-config.mjs").read_text(encoding="utf-8")
    gz = dist_dir / f"{info.file}.gz"
    assert sri_file(dist_dir / info.file) in config
    assert sri_file(gz) in config
    config = config.replace(sri_file(dist_dir / info.file), sri(damaged))
    config = config.replace(sri_file(gz), sri(damaged_gz))
    fresh = SiteServer.start()   # its own origin: nothing of it is in the browser's cache
    try:
        fresh.site.replace("/" + info.file, damaged)
        fresh.site.replace(f"/{info.file}.gz", damaged_gz)
        fresh.site.replace("/engage-config.mjs", config.encode("utf-8"))
        fresh.site.script("/xtest/events.js", EVENTS_JS)
        fresh.site.script("/xtest/check.js", CHECK_JS)
        fresh.site.page(
            "/xtest/page.html",
            f"<!doctype html><html><head><meta charset='utf-8'>{ICON}"
            "<script src='/engage.js' data-endpoint='/' data-account-id='demo'></script>"
            "<script src='/xtest/events.js'></script><script src='/xtest/check.js'></script>"
            "</head><body></body></html>",
        )
        page = engine.open(fresh.base_url + "/xtest/page.html")
        outcome = first_outcome(page)

        assert outcome["status"] == "Available", outcome
        assert [r["bootKind"] for r in page.js("return window.__events.onReady")] == ["normal"]
        hits = fresh.site.hits
        runtime = ["pyodide/pyodide.asm.wasm", "pyodide/pyodide-lock.json", info.stdlib]
        assert [hits["/" + name] for name in runtime] == [1, 1, 1], dict(hits)
        assert hits["/" + info.file] == 1
    finally:
        fresh.stop()
