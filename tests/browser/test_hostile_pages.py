"""Hostile or careless host pages: the embed keeps working and keeps out of the page's way.

- A strict Content-Security-Policy on the page and on the worker script (``CSP`` below, the
  policy documented in SECURITY.md and the README): no inline script, no eval, only
  'wasm-unsafe-eval' for Pyodide's WebAssembly.
- A page that replaced built-ins the way old libraries did (Prototype.js's ``Array#toJSON``,
  enumerable ``Object.prototype`` additions, a Promise polyfill, naive ``forEach``/``trim``
  replacements) and defines globals with colliding names (AMD ``define``, CommonJS ``module``,
  ``pyodide``, ``loadPyodide``, ``config``, ``worker``...).
- The embed included twice, and an SPA that re-runs its page code (re-inserting the tag,
  re-initialising, re-binding) on every history navigation: one worker, one callback call per
  outcome, and a pending call survives the navigation.

Pages here use external scripts only (served by Playwright routing), so they also run under CSP.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from tests.browser.conftest import BOOT_TIMEOUT_MS, Probe
from tests.browser.hardening import SEED_PARAMS

pytestmark = pytest.mark.browser

#: The strict policy a host page may use with the embed (documented in SECURITY.md).
CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

# Installed before every page script: records CSP violations and how many workers were made.
RECORDERS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
window.__workersMade = 0;
(function () {
  var RealWorker = window.Worker;
  window.Worker = function (url, options) {
    window.__workersMade += 1;
    return new RealWorker(url, options);
  };
  window.Worker.prototype = RealWorker.prototype;
})();
window.__outcomes = [];
window.__record = function (outcome) { window.__outcomes.push(outcome); };
"""

# What careless pages and old libraries do to the environment before the embed loads.
TAMPERING = """
// Prototype.js 1.6: arrays serialise themselves to a JSON *string*.
Array.prototype.toJSON = function () {
  var saved = Array.prototype.toJSON;
  delete Array.prototype.toJSON;
  try { return JSON.stringify(this); } finally { Array.prototype.toJSON = saved; }
};
// MooTools-style enumerable additions to every object and array.
Object.prototype.extend = function (o) { for (var k in o) this[k] = o[k]; return this; };
Array.prototype.contains = function (x) { return this.indexOf(x) >= 0; };
// A naive forEach that ignores thisArg, a trim that only strips spaces.
Array.prototype.forEach = function (fn) {
  for (var i = 0; i < this.length; i++) fn(this[i], i, this);
};
String.prototype.trim = function () { return this.replace(/^ +| +$/g, ""); };
// A Promise "polyfill" subclass and an analytics wrapper around JSON.stringify.
window.Promise = (function (P) {
  function PolyPromise(executor) { return Reflect.construct(P, [executor], PolyPromise); }
  PolyPromise.prototype = Object.create(P.prototype);
  PolyPromise.prototype.constructor = PolyPromise;
  Object.setPrototypeOf(PolyPromise, P);
  return PolyPromise;
})(window.Promise);
JSON.stringify = (function (stringify) {
  return function (value, replacer, space) { return stringify(value, replacer, space); };
})(JSON.stringify);
// Globals whose names an embed might also use.
window.define = function () { throw new Error("page's AMD define called"); };
window.define.amd = {};
window.module = {exports: {}};
window.exports = window.module.exports;
window.pyodide = "the page's own pyodide variable";
window.loadPyodide = function () { throw new Error("page's loadPyodide called"); };
var config = "page config", worker = "page worker", debug = "page debug", TAG = "page tag";
window.addEventListener("message", function (e) {
  if (typeof e.data !== "object") throw new Error("page message handler got " + e.data);
});
"""

PAGE_SCRIPT = """
ChatApi.bind("onEngagement", window.__record);
window.__result = ChatApi.getEngagement(%(params)s);
"""


class Site:
    """Same-origin test pages made of external scripts, optionally with a CSP on everything."""

    def __init__(self, probe: Probe, csp: str | None = None) -> None:
        self.probe = probe
        self.csp = csp
        self.context = probe.new_context()
        self.context.add_init_script(RECORDERS)
        if csp is not None:
            self.context.route("**/*", self._with_csp)
        self.context.route(
            probe.base_url + "/test/icon", lambda route: route.fulfill(status=204, body="")
        )

    def _with_csp(self, route: Any) -> None:
        """Every same-origin answer (page, engage.js, the worker, Pyodide) carries the policy."""
        try:
            response = route.fetch()
            headers = {**response.headers, "content-security-policy": self.csp}
            route.fulfill(response=response, headers=headers)
        except PlaywrightError:  # the page or context closed while the request was in flight
            pass

    def script(self, path: str, body: str) -> None:
        self.context.route(
            self.probe.base_url + path,
            lambda route: route.fulfill(
                status=200,
                content_type="text/javascript",
                body=body,
                headers={"content-security-policy": self.csp} if self.csp else {},
            ),
        )

    def open(self, scripts: list[str], path: str = "/test/page.html") -> Any:
        tags = "".join(scripts)
        html = (
            "<!doctype html><html><head><meta charset='utf-8'><link rel='icon' href='/test/icon'>"
            f"{tags}</head><body><h1>host page</h1><main id='app'></main></body></html>"
        )
        url = self.probe.base_url + path
        headers = {"content-security-policy": self.csp} if self.csp else {}
        self.context.route(
            url,
            lambda route: route.fulfill(
                status=200, content_type="text/html; charset=utf-8", body=html, headers=headers
            ),
        )
        page = self.context.new_page()
        self.probe.watch(page)
        page.goto(url)
        return page


EMBED = '<script src="/engage.js" data-endpoint="/" data-account-id="demo"></script>'


def _page_script(params: Any = SEED_PARAMS) -> str:
    return PAGE_SCRIPT % {"params": json.dumps(params)}


def _result(page: Any) -> dict[str, Any]:
    return page.evaluate("window.__result")


def test_the_embed_works_under_a_strict_content_security_policy(probe: Probe, emulator: Any):
    """Under CSP (no inline script, no eval; wasm-unsafe-eval only) on the page and on every
    script the worker loads, the check answers, with no violation and no console error."""
    site = Site(probe, CSP)
    policed: dict[str, str] = {}
    site.context.on(
        "response",
        lambda response: policed.update(
            {response.url.rsplit("/", 1)[-1]: response.headers.get("content-security-policy")}
        ),
    )
    site.script("/test/page.js", _page_script())
    page = site.open([EMBED, '<script src="/test/page.js"></script>'])

    first = _result(page)
    second = page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)

    assert first["status"] in ("Available", "NotAvailable")
    assert second["status"] == "Available"
    assert page.evaluate("window.__violations") == []
    assert page.evaluate("window.__workersMade") == 1
    for name in ("page.html", "engage.js", "engage-worker.mjs", "pyodide.mjs"):
        assert policed.get(name) == CSP, (name, policed.get(name))


def test_an_inline_script_is_really_blocked_by_that_policy(probe: Probe):
    """Control: the same policy does block an inline script (so the test above means something)."""
    probe.allow(r"Content Security Policy|Refused to execute inline script")
    site = Site(probe, CSP)
    page = site.open([EMBED, "<script>window.__inline = true;</script>"])
    page.wait_for_function("window.__violations.length > 0", timeout=BOOT_TIMEOUT_MS)
    assert page.evaluate("window.__inline === undefined")


def test_a_page_with_replaced_builtins_and_colliding_globals_gets_correct_answers(
    probe: Probe, emulator: Any
):
    """Old-library prototype changes and colliding global names neither break the embed nor
    corrupt what it sends: the SDEs recorded on the session are exactly the page's."""
    site = Site(probe)
    site.script("/test/tamper.js", TAMPERING)
    site.script("/test/page.js", _page_script())
    page = site.open(
        ['<script src="/test/tamper.js"></script>', EMBED, '<script src="/test/page.js"></script>']
    )

    first = _result(page)
    second = page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)

    assert first["status"] in ("Available", "NotAvailable"), first
    assert second["status"] == "Available", second
    assert second["engagementDetails"]["skillId"] == 23  # the sections arrived as a list
    recorded = emulator.session(second["sessionId"])["engagementAttributes"]
    assert recorded[-1] == SEED_PARAMS["engagementAttributes"][0]
    assert page.evaluate("window.__outcomes.length") == 2
    assert page.evaluate("typeof window.define === 'function' && window.pyodide.length > 0")


def test_the_tag_included_twice_gives_one_worker_and_one_callback_per_outcome(
    probe: Probe, emulator: Any
):
    """Two copies of the tag: the second is ignored (console.info), one worker, one call each."""
    site = Site(probe)
    site.script("/test/page.js", _page_script())
    page = site.open([EMBED, EMBED, '<script src="/test/page.js"></script>'])

    assert _result(page)["status"] in ("Available", "NotAvailable")
    assert page.evaluate("window.__workersMade") == 1
    assert page.evaluate("window.__outcomes.length") == 1
    assert any("included more than once" in line for line in probe.console)


# An SPA: every navigation re-runs the "page code": it re-inserts the embed tag, re-initialises
# with the same options, re-binds the same handler, and checks again.
SPA = """
window.__handled = [];
window.handler = window.handler || function (o) { window.__handled.push(o.status); };
function pageCode(route) {
  var tag = document.createElement("script");
  tag.src = "/engage.js";
  tag.dataset.endpoint = "/";
  tag.dataset.accountId = "demo";
  document.head.appendChild(tag);
  tag.onload = function () {
    ChatApi.init({endpoint: "/", accountId: "demo", onEngagement: window.handler,
                  retry: {notAvailableRechecks: 0}});
    ChatApi.bind("onEngagement", window.handler);
    document.getElementById("app").textContent = "route " + route;
    window.__checks = (window.__checks || []).concat(
      [ChatApi.getEngagement({consumerSections: ["Support"]})]);
  };
}
window.navigate = function (route) {
  history.pushState({route: route}, "", "/test/" + route);
  pageCode(route);
};
window.addEventListener("popstate", function (e) { pageCode(e.state && e.state.route); });
pageCode("home");
"""


def test_spa_navigation_rerunning_page_code_duplicates_neither_workers_nor_callbacks(
    probe: Probe, emulator: Any
):
    """Five history navigations that each re-insert the tag, re-init and re-bind the same handler:
    one worker, the handler called once per outcome, and every check (also one pending during a
    navigation) resolves with a real answer."""
    site = Site(probe)
    site.script("/test/spa.js", SPA)
    page = site.open(['<script src="/test/spa.js"></script>'], path="/test/home")
    page.wait_for_function("window.__checks && window.__checks.length === 1")
    for route in ("a", "b", "c", "d", "e"):
        page.evaluate("(route) => navigate(route)", route)
    page.go_back()
    page.wait_for_function("window.__checks.length === 7")

    outcomes = page.evaluate("Promise.all(window.__checks)")

    assert [o["status"] in ("Available", "NotAvailable") for o in outcomes] == [True] * 7
    assert page.evaluate("window.__workersMade") == 1
    assert page.evaluate("window.__handled.length") == 7
    assert len({o["visitorId"] for o in outcomes}) == 1
