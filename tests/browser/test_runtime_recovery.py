"""Never stuck: a runtime that cannot start, stalls or dies ends every waiting call, then recovers.

The embed's promise is one outcome per call, always. Here the Python runtime is attacked the way
a broken deployment, a hostile proxy or a careless network would, each through Playwright
routing on loopback:

- ``pyodide.asm.wasm`` answers 404 or garbage bytes, or the worker script is served with a
  Content-Security-Policy without ``'wasm-unsafe-eval'``: the worker sees the instantiation fail
  and the calls end at once with a ``runtime`` Error naming the cause.
- the wasm or the worker script never finishes downloading: the calls end at the boot timeout
  (``data-boot-timeout-ms``, default 45 s).
- a fatal Pyodide error (a real one: ``json.loads`` of a list nested 100,000 deep overflows the
  stack) or a worker that stops answering a call: the calls in flight end with a ``runtime``
  Error, ``ChatApi.ready`` turns false, a new worker starts after a backoff, ``onReady`` fires
  again, and reports queued meanwhile are delivered, once.
- an answer nested 7,000 or 10,000 levels deep (which used to kill Pyodide): that call ends
  ``malformed`` and the page goes on.

Hooks that make a worker die on demand are appended to the served worker script
(``WORKER_HOOKS``); the shipped file has none.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.browser.conftest import Emulator, Probe, embed_page
from tests.browser.hardening import SEED_PARAMS

pytestmark = pytest.mark.browser

#: What the console shows while a runtime fails: the embed's own errors, Pyodide's report of a
#: fatal error, the browser's lines about refused resources.
RUNTIME_NOISE = (
    r"\[engage-web\]|Pyodide has suffered|cause of the fatal error|Maximum call stack|"
    r"wasm|Failed to load resource|Content Security Policy|unsafe-eval|the Python runtime"
)

IMPRESSION = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44}

# After the tag: counts onReady, records outcomes with the ready state they were handed over in,
# and stamps calls made at load with the page time they resolved at.
RECORD = """<script>
  window.__readies = 0;
  window.__outcomes = [];
  window.__attempts = 0;
  ChatApi.bind("onReady", function () { window.__readies += 1; });
  ChatApi.bind("onAttempt", function () { window.__attempts += 1; });
  ChatApi.bind("onEngagement", function (outcome) {
    window.__outcomes.push({status: outcome.status, ready: ChatApi.ready});
  });
  window.__stamp = function (promise) {
    return promise.then(function (value) { return {value: value, at: performance.now()}; });
  };
</script>"""

# Calls made while the page loads, before the runtime had any chance to start.
EARLY_CALLS = (
    "<script>window.__early = __stamp(ChatApi.getEngagement({}));"
    f"window.__queued = __stamp(ChatApi.report([{json.dumps(IMPRESSION)}]));</script>"
)

# Appended to the served engage-worker.mjs (it runs in the module's scope): a check whose
# sections name "test:silent" is swallowed (a call the worker never answers), one naming
# "test:fatal" makes Python parse a list nested 100,000 deep, a genuine fatal Pyodide error.
WORKER_HOOKS = """
;{
  const pass = self.onmessage;
  self.onmessage = (event) => {
    const text = String(event.data);
    if (text.includes("test:silent")) return;
    if (text.includes("test:fatal")) {
      const deep = "[".repeat(100000) + "]".repeat(100000);
      booting.then(() => workerModule.json.loads(deep)).catch(() => {});
      return;
    }
    pass(event);
  };
}
"""


def _wasm(url: str) -> bool:
    return url.endswith("/pyodide/pyodide.asm.wasm")


def _worker_script(url: str) -> bool:
    return url.endswith("/engage-worker.mjs")


def _with_hooks(route: Any) -> None:
    response = route.fetch()
    route.fulfill(response=response, body=response.text() + WORKER_HOOKS)


def _open(probe: Probe, context: Any, *, attrs: str = "", early: bool = True) -> Any:
    html = embed_page(attrs=attrs, body=RECORD + (EARLY_CALLS if early else ""))
    return probe.open(html, context=context)


def _session_impressions(emulator: Emulator, sid: str) -> list[dict[str, Any]]:
    return [sde for sde in emulator.session(sid)["impressions"] if sde.get("type") == "impDisplay"]


def _answering(body: str) -> Any:
    """A route handler answering 200 with ``body`` as JSON."""

    def answer(route: Any) -> None:
        route.fulfill(status=200, content_type="application/json", body=body)

    return answer


def _refuse_wasm(route: Any) -> None:
    route.fulfill(status=404, content_type="text/plain", body="not here")


def _garbage_wasm(route: Any) -> None:
    route.fulfill(status=200, content_type="application/wasm", body=b"\0asm garbage " * 64)


def _worker_csp(route: Any) -> None:
    response = route.fetch()
    headers = {**response.headers, "content-security-policy": "script-src 'self'"}
    route.fulfill(response=response, headers=headers)


@pytest.mark.parametrize(
    ("matcher", "handler", "says"),
    [
        # with the build's integrity hashes the worker names a 404 or changed bytes itself;
        # without them (a CDN build) the failed instantiation says so
        (_wasm, _refuse_wasm, r"answered HTTP 404|HTTP status code is not ok"),
        (_wasm, _garbage_wasm, r"does not match the integrity hash|CompileError"),
        (_worker_script, _worker_csp, r"'wasm-unsafe-eval'"),
    ],
    ids=["wasm-404", "wasm-garbage", "worker-csp-without-wasm-unsafe-eval"],
)
def test_a_runtime_that_cannot_start_ends_every_waiting_call_with_the_cause(
    probe: Probe, matcher: Any, handler: Any, says: str
):
    """Checks and reports made at load end with a runtime Error naming the cause, long before
    the boot timeout: the failure is seen, not waited out; the report is kept (queued)."""
    probe.allow(RUNTIME_NOISE)
    context = probe.new_context()
    context.route(matcher, handler)
    page = _open(probe, context, attrs='data-boot-timeout-ms="60000"')

    early = page.evaluate("window.__early")
    queued = page.evaluate("window.__queued")

    for call in (early, queued):
        error = call["value"]["error"]
        assert call["value"]["status"] == "Error"
        assert error["code"] == "runtime"
        assert error["transient"] is True
        assert re.search(says, error["message"]), error["message"]
        assert call["at"] < 60_000
    assert queued["value"]["queued"] is True
    assert page.evaluate("ChatApi.queuedReports") == 1
    assert page.evaluate("window.__outcomes") == [{"status": "Error", "ready": False}]


@pytest.mark.parametrize("matcher", [_wasm, _worker_script], ids=["wasm", "worker-script"])
def test_a_stalled_download_ends_every_waiting_call_at_the_boot_timeout(
    probe: Probe, matcher: Any
):
    """A download that never finishes: the calls end with a runtime Error once the boot
    timeout (4 s here) has passed, and not much later."""
    probe.allow(RUNTIME_NOISE)
    context = probe.new_context()
    held: list[Any] = []
    context.route(matcher, lambda route: held.append(route))  # never answered
    page = _open(probe, context, attrs='data-boot-timeout-ms="4000"')

    early = page.evaluate("window.__early")
    queued = page.evaluate("window.__queued")

    assert held, "the stalled request was made"
    for call in (early, queued):
        assert call["value"]["error"]["code"] == "runtime"
        assert "did not start within 4 s" in call["value"]["error"]["message"]
        assert 4_000 <= call["at"] < 4_000 + 15_000  # page time since navigation
    assert queued["value"]["queued"] is True
    assert page.evaluate("ChatApi.ready") is False


def test_after_a_failed_start_a_new_worker_comes_up_without_a_reload_and_delivers_the_queue(
    probe: Probe, emulator: Emulator
):
    """The wasm fails once: the page's first calls end with a runtime Error, a new worker starts
    by itself after a backoff, onReady fires, and the report made meanwhile arrives once."""
    probe.allow(RUNTIME_NOISE)
    context = probe.new_context()
    page = _open(probe, context, early=False)
    answer = page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)
    assert answer["status"] == "Available"  # the visitor has a session (kept by the tab)

    wasm_requests: list[str] = []

    def fail_once(route: Any) -> None:
        # the first download fails (and so does the worker's HEAD asking why); later ones pass
        method = route.request.method
        if method == "GET":
            wasm_requests.append(method)
        if len(wasm_requests) == 1:
            route.fulfill(status=404, body="gone for a moment")
        else:
            route.fallback()

    context.route(_wasm, fail_once)
    next_view = embed_page(body=RECORD + EARLY_CALLS)
    context.route(probe.base_url + "/test/next.html", lambda r: r.fulfill(
        status=200, content_type="text/html; charset=utf-8", body=next_view))
    page.goto(probe.base_url + "/test/next.html")  # the same tab: the session stays

    early = page.evaluate("window.__early")["value"]
    queued = page.evaluate("window.__queued")["value"]
    assert early["error"]["code"] == "runtime"
    assert (queued["error"]["code"], queued["queued"]) == ("runtime", True)

    page.wait_for_function("window.__readies === 1")  # a new worker, no reload
    page.wait_for_function("ChatApi.queuedReports === 0")
    assert len(wasm_requests) == 2
    assert page.evaluate("ChatApi.ready") is True
    assert page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)["status"] == "Available"
    assert _session_impressions(emulator, answer["sessionId"]) == [IMPRESSION]


def test_a_fatal_python_error_ends_the_calls_in_flight_and_a_new_worker_takes_over(
    probe: Probe, emulator: Emulator
):
    """A fatal Pyodide error while a check is in flight: both calls end with a runtime Error,
    ready is false when they do, a report made then is queued, onReady fires again for a new
    worker, the report arrives once, and the page's watch goes on with the new worker."""
    probe.allow(RUNTIME_NOISE)
    context = probe.new_context()
    context.route(_worker_script, _with_hooks)
    page = _open(probe, context, early=False)
    answer = page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)
    assert answer["status"] == "Available"
    page.evaluate("(p) => ChatApi.watch(p)", SEED_PARAMS)
    page.wait_for_function("window.__outcomes.length === 2")  # the watch's first outcome

    emulator.fault(count=1, delayMs=20_000, route="check")  # the next check stays in flight
    attempts = page.evaluate("window.__attempts")
    page.evaluate("(p) => { window.__slow = ChatApi.getEngagement(p); }", SEED_PARAMS)
    page.wait_for_function(f"window.__attempts > {attempts}")
    fatal, queued = page.evaluate(
        """(impression) => ChatApi.getEngagement({consumerSections: ["test:fatal"]})
          .then((outcome) => Promise.all([outcome, ChatApi.report([impression])]))""",
        IMPRESSION,
    )
    slow = page.evaluate("window.__slow")

    for outcome in (fatal, slow):
        assert outcome["error"]["code"] == "runtime"
        assert "Maximum call stack size exceeded" in outcome["error"]["message"]
    assert (queued["error"]["code"], queued["queued"]) == ("runtime", True)
    # the two checks and the watch heard of the failure, each while ready was false
    assert page.evaluate("window.__outcomes").count({"status": "Error", "ready": False}) == 3

    page.wait_for_function("window.__readies === 2")
    page.wait_for_function("ChatApi.queuedReports === 0")
    page.wait_for_function(  # the watch's first outcome from the new worker
        "window.__outcomes.at(-1).status === 'Available' && window.__outcomes.length === 6"
    )
    assert page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)["status"] == "Available"
    assert _session_impressions(emulator, answer["sessionId"]) == [IMPRESSION]


def test_a_worker_that_stops_answering_is_declared_dead_after_the_call_bound(probe: Probe):
    """A call the worker never answers ends once the worker has been silent for callBoundMs
    (the policy's deadline + attempt timeout + 5 s: 7.5 s here), and a new worker serves."""
    probe.allow(RUNTIME_NOISE)
    context = probe.new_context()
    context.route(_worker_script, _with_hooks)
    page = _open(probe, context, early=False)
    page.evaluate(
        """() => new Promise((resolve) => {
          ChatApi.bind("onReady", function once() { ChatApi.unbind("onReady", once); resolve(); });
          ChatApi.init({retry: {deadlineMs: 1500, attemptTimeoutMs: 1000}});
        })"""
    )
    lost = page.evaluate(
        """() => {
          const started = performance.now();
          return ChatApi.getEngagement({consumerSections: ["test:silent"]})
            .then((outcome) => ({outcome: outcome, waited: performance.now() - started}));
        }"""
    )
    assert lost["outcome"]["error"]["code"] == "runtime"
    assert "stopped answering" in lost["outcome"]["error"]["message"]
    assert 7_500 <= lost["waited"] < 7_500 + 15_000
    readies = page.evaluate("window.__readies")
    page.wait_for_function(f"window.__readies > {readies}")
    assert page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)["status"] != "Error"


def test_answers_nested_thousands_deep_end_malformed_and_the_page_goes_on(
    probe: Probe, emulator: Emulator
):
    """An answer nested 7,000 or 10,000 levels deep (a 14-20 KB body) is a malformed Error;
    the same page's later checks and reports resolve as usual."""
    probe.allow(RUNTIME_NOISE)
    context = probe.new_context()
    page = _open(probe, context, early=False)

    def engagement(url: str) -> bool:
        return "/app/engagement/visitors" in url

    for depth in (7_000, 10_000):
        nested = _answering('{"status": "Available", "deep": ' + "[" * depth + "]" * depth + "}")
        context.route(engagement, nested)
        outcome = page.evaluate(
            "() => ChatApi.getEngagement({consumerSections: ['Support']})"
        )
        context.unroute(engagement, nested)
        assert outcome["error"]["code"] == "malformed"
        assert "nested deeper than 64 levels" in outcome["error"]["message"]
        assert page.evaluate("ChatApi.ready") is True

        answer = page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)
        assert answer["status"] == "Available"
        reported = page.evaluate("(i) => ChatApi.report([i])", {**IMPRESSION, "revision": depth})
        assert reported["status"] == "Reported"
    assert page.evaluate("window.__readies") == 1  # the same worker all along
