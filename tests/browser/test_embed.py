"""The one-tag embed in headless Chromium: window.ChatApi answered by Python in a Web Worker.

Each test gets a fresh browser context (cold start) and a reset emulator (default scenario:
account ``demo``; a new session answers NotAvailable once, then the seed's request is
Available). Waiting is always on a promise or a page condition, never on a sleep.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from engage_web.cpython.emulator.seed import seed_engagement_details, seed_request
from tests.browser.conftest import Emulator, Probe, closed_port, embed_page, write_artifact

pytestmark = pytest.mark.browser

# The seed's example request, without its placeholder vid/sid (the embed sends stored ids).
SEED_PARAMS = seed_request()
SEED_DETAILS = seed_engagement_details()

# Page script (after the tag) that records every event into window.__events.
RECORD_EVENTS = """<script>
  window.__events = {onEngagement: [], onRetry: [], onReady: []};
  ["onEngagement", "onRetry", "onReady"].forEach(function (name) {
    ChatApi.bind(name, function (payload) { window.__events[name].push(payload); });
  });
</script>"""

# A retry policy that gives up on an unreachable endpoint within a second or two.
FAST_RETRY = {"retries": 2, "backoffInitialMs": 50, "backoffMaxMs": 100, "attemptTimeoutMs": 3000}


def check(page: Any, params: Any = SEED_PARAMS) -> dict[str, Any]:
    """Call ChatApi.getEngagement(params) in the page and return the resolved outcome."""
    return page.evaluate("(params) => ChatApi.getEngagement(params)", params)


def events(page: Any, name: str) -> list[Any]:
    return page.evaluate(f"window.__events.{name}")


def test_available_with_the_seed_response_shape_after_a_timed_warm_up_retry(
    probe: Probe, emulator: Emulator
):
    """The seed's request ends Available (seed shape) after one NotAvailable and one onRetry."""
    page = probe.open(embed_page(head="", body=RECORD_EVENTS))
    outcome = check(page)

    assert outcome["status"] == "Available"
    assert outcome["engagementDetails"] == SEED_DETAILS
    assert {"sessionId", "visitorId", "pageId"} <= outcome.keys()
    assert events(page, "onEngagement") == [outcome]
    retries = events(page, "onRetry")
    assert [r["reason"] for r in retries] == ["NotAvailable"]
    assert retries[0]["attempt"] == 2
    assert retries[0]["delayMs"] > 0
    first, second = emulator.requests("/engagement")
    assert first["requestLine"] == "POST /api/account/demo/app/engagement/visitors?v=1.0"
    assert second["requestLine"] == (  # the re-check continues the session the server opened
        f"POST /api/account/demo/app/engagement/visitors/{outcome['visitorId']}"
        f"?v=1.0&sid={outcome['sessionId']}"
    )


def test_retry_after_on_503_is_honoured_then_the_check_succeeds(probe: Probe, emulator: Emulator):
    """A 503 with Retry-After: 1 is retried after 1 s (onRetry says so) and then succeeds."""
    page = probe.open(embed_page(body=RECORD_EVENTS))
    assert check(page)["status"] == "Available"  # session warmed up
    emulator.fault(count=1, status=503, retryAfter=1)
    probe.allow(r"status of 503")

    outcome = check(page)

    assert outcome["status"] == "Available"
    assert events(page, "onRetry")[-1] == {"attempt": 2, "delayMs": 1000, "reason": "http-503"}
    log = emulator.requests("/engagement")
    assert len(log) == 4  # the warm-up pair, then the 503 and its retry


@pytest.mark.parametrize(
    ("params", "fault", "code", "field", "hint", "requests"),
    [
        ({"appDetails": {"os": "mac"}}, None, 400, "appDetails.os", "allowed: WINDOWS", 0),
        ({"sid": "abc"}, None, 401, "sid", "vid", 0),
        ({"consumerSections": ["Support"]}, {"status": 400}, 400, None, "", 1),
        ({"consumerSections": ["Support"]}, {"status": 401}, 401, None, "", 1),
    ],
    ids=["invalid-os-refused-locally", "sid-without-vid", "server-400", "server-401"],
)
def test_client_errors_end_at_once_naming_the_field_without_retry(
    probe: Probe, emulator: Emulator, params, fault, code, field, hint, requests
):
    """400/401, found locally or answered by the server, give one Error outcome and no retry."""
    if fault is not None:
        emulator.fault(count=1, **fault)
        probe.allow(rf"status of {code}")
    page = probe.open(embed_page(body=RECORD_EVENTS))

    outcome = check(page, params)

    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == code
    if field is not None:
        assert outcome["error"]["field"] == field
    assert hint in outcome["error"]["message"]
    assert events(page, "onRetry") == []
    assert events(page, "onEngagement") == [outcome]
    assert len(emulator.requests("/engagement")) == requests


@pytest.mark.parametrize(
    "make_params",
    [
        "(() => { const p = {consumerSections: ['Support']}; p.self = p; return p; })()",
        "function () {}",
        "({consumerSections: ['Support'], big: 10n})",
    ],
    ids=["cycle", "function", "bigint"],
)
def test_params_that_are_not_json_data_give_a_400_naming_params(
    probe: Probe, emulator: Emulator, make_params: str
):
    """Params JSON cannot carry resolve with Error 400 (field params); nothing is sent."""
    page = probe.open(embed_page())
    outcome = page.evaluate(f"ChatApi.getEngagement({make_params})")
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == 400
    assert outcome["error"]["field"] == "params"
    assert "must be JSON data" in outcome["error"]["message"]
    assert emulator.requests("/engagement") == []


def test_calls_made_before_init_send_the_stored_session_once_init_names_the_endpoint(
    probe: Probe,
):
    """A call queued before init() (no data-endpoint) still continues the stored session."""
    page = probe.open(embed_page())
    first = check(page)
    later_init = """<script>
      window.__queued = ChatApi.getEngagement({consumerSections: ["Support"]});
      ChatApi.init({endpoint: "/", accountId: "demo"});
    </script>"""
    second_url = probe.base_url + "/test/later-init.html"
    html = embed_page(endpoint=None, account=None, body=later_init)
    page.context.route(second_url, lambda route: route.fulfill(content_type="text/html", body=html))
    page.goto(second_url)  # same tab: same session storage
    queued = page.evaluate("window.__queued")
    assert (queued["visitorId"], queued["sessionId"]) == (first["visitorId"], first["sessionId"])


def test_unreachable_endpoint_gives_a_network_error_after_the_policy_attempts(probe: Probe):
    """A closed port ends in one Error outcome (code network) after 1 + retries attempts."""
    probe.allow(r"ERR_CONNECTION_REFUSED|Failed to load resource|Failed to fetch")
    port = closed_port()
    page = probe.open(embed_page(endpoint=None, account=None, body=RECORD_EVENTS))
    page.evaluate(
        "(config) => ChatApi.init(config)",
        {"endpoint": f"http://127.0.0.1:{port}", "accountId": "demo", "retry": FAST_RETRY},
    )

    outcome = check(page)

    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == "network"
    assert outcome["error"]["attempts"] == 3
    assert [r["reason"] for r in events(page, "onRetry")] == ["network", "network"]
    assert page.evaluate("window.__rejections") == []


def test_the_visitor_session_is_reused_kept_across_reloads_and_new_sessions(
    probe: Probe, emulator: Emulator
):
    """vid/sid are reused by the next call; sid survives a reload; vid survives a new session."""
    context = probe.new_context()
    page = probe.open(embed_page(), context=context)
    first = check(page)
    second = check(page)
    assert (second["visitorId"], second["sessionId"]) == (first["visitorId"], first["sessionId"])
    last = emulator.requests("/engagement")[-1]
    assert last["path"].endswith(f"/visitors/{first['visitorId']}")
    assert f"sid={first['sessionId']}" in last["query"]

    page.reload()
    after_reload = check(page)
    assert (after_reload["visitorId"], after_reload["sessionId"]) == (
        first["visitorId"],
        first["sessionId"],
    )

    # A new browsing session: local storage carried over, session storage not.
    later = probe.new_context(storage_state=context.storage_state())
    page2 = probe.open(embed_page(), context=later)
    next_visit = check(page2)
    assert next_visit["visitorId"] == first["visitorId"]
    assert next_visit["sessionId"] != first["sessionId"]


def test_calls_made_before_the_runtime_is_ready_are_queued_and_answered(probe: Probe):
    """Two calls made in the page's first script, before the worker is up, both get outcomes."""
    early = """<script>
      window.__early = {readyAtCall: ChatApi.ready, outcomes: Promise.all([
        ChatApi.getEngagement({consumerSections: ["Support"]}),
        ChatApi.getEngagement({consumerSections: ["Sales"]}),
      ])};
    </script>"""
    page = probe.open(embed_page(body=early))

    outcomes = page.evaluate("window.__early.outcomes")

    assert page.evaluate("window.__early.readyAtCall") is False
    assert [o["status"] for o in outcomes] == ["Available", "NotAvailable"]
    assert outcomes[0]["sessionId"] == outcomes[1]["sessionId"]  # one session, not two


def test_each_binding_form_is_called_and_unbind_removes_it(probe: Probe):
    """A function, {callback, context} (this = context) and an array are called; unbind works."""
    script = """<script>
      window.__calls = [];
      window.fn = function (o) { window.__calls.push("fn:" + o.status); };
      window.ctx = {name: "ctx"};
      window.withContext = {
        callback: function (o) { window.__calls.push(this.name + ":" + o.status); },
        context: window.ctx,
      };
      window.a = function (o) { window.__calls.push("a:" + o.status); };
      window.b = function (o) { window.__calls.push("b:" + o.status); };
      ChatApi.bind("onEngagement", fn);
      ChatApi.bind("onEngagement", fn);  // bound once only
      ChatApi.bind("onEngagement", withContext);
      ChatApi.bind("onEngagement", [a, {callback: b}]);
    </script>"""
    page = probe.open(embed_page(body=script))
    check(page, {"consumerSections": ["Sales"]})
    assert page.evaluate("window.__calls") == [
        "fn:NotAvailable",
        "ctx:NotAvailable",
        "a:NotAvailable",
        "b:NotAvailable",
    ]

    page.evaluate(
        "ChatApi.unbind('onEngagement', fn); ChatApi.unbind('onEngagement', [a, b]);"
        "window.__calls = [];"
    )
    check(page, {"consumerSections": ["Sales"]})
    assert page.evaluate("window.__calls") == ["ctx:NotAvailable"]


def test_a_throwing_page_callback_is_reported_and_does_not_break_the_widget(probe: Probe):
    """A throwing callback is logged (console.error); other callbacks and the Promise go on."""
    probe.allow(r"\[engage-web\] an onEngagement callback threw")
    script = """<script>
      window.__seen = [];
      ChatApi.bind("onEngagement", function () { throw new Error("page bug"); });
      ChatApi.bind("onEngagement", function (o) { window.__seen.push(o.status); });
    </script>"""
    page = probe.open(embed_page(body=script))
    outcome = check(page, {"consumerSections": ["Sales"]})
    assert outcome["status"] == "NotAvailable"
    assert page.evaluate("window.__seen") == ["NotAvailable"]
    assert any("page bug" in p for p in probe.problems)


def test_report_adds_impression_events_to_the_session(probe: Probe, emulator: Emulator):
    """ChatApi.report() sends SDEs (impression events too) to the live session."""
    page = probe.open(embed_page())
    outcome = check(page)
    impression = {"type": "impDisplay", "campaign": 3346848610, "engId": 3562981110, "revision": 44}

    result = page.evaluate("(attrs) => ChatApi.report(attrs)", [impression])

    assert result["status"] == "Reported"
    assert result["delivered"] is True
    recorded = emulator.session(outcome["sessionId"])["impressions"]
    assert impression in [json.loads(json.dumps(r)) for r in _flatten(recorded)]


def _flatten(recorded: list[Any]) -> list[Any]:
    """The SDE objects of a session record (entries may wrap them with metadata)."""
    out = []
    for entry in recorded:
        if isinstance(entry, dict) and "type" in entry:
            out.append(entry)
        elif isinstance(entry, dict):
            for value in entry.values():
                if isinstance(value, list):
                    out += _flatten(value)
                elif isinstance(value, dict) and "type" in value:
                    out.append(value)
    return out


def test_including_the_tag_twice_is_harmless(probe: Probe, emulator: Emulator):
    """A second tag is detected and ignored (console.info); one worker, one answer per call."""
    page = probe.open(embed_page(tag_twice=True, body=RECORD_EVENTS))
    outcome = check(page)
    assert outcome["status"] == "Available"
    assert len(page.workers) == 1
    assert events(page, "onEngagement") == [outcome]
    assert any("included more than once" in line for line in probe.console)


def test_cancel_ends_a_pending_check_with_a_cancelled_outcome(probe: Probe):
    """cancel() while a check waits to retry resolves it with code 'cancelled' at once."""
    script = """<script>
      // A long NotAvailable re-check delay: the check is surely still waiting when cancelled.
      ChatApi.init({endpoint: "/", accountId: "demo", retry: {notAvailableDelayMs: 20000}});
      ChatApi.bind("onRetry", function () { ChatApi.cancel(); });
    </script>"""
    page = probe.open(embed_page(endpoint=None, account=None, body=script))
    outcome = check(page, {"consumerSections": ["Support"]})
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == "cancelled"


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"accountId": "not valid!"}, "accountId"),
        ({"retry": {"attemptTimeoutMs": "soon"}}, "retry.attemptTimeoutMs"),
        ({"retry": {"preset": "fastest"}}, "retry.preset"),
    ],
    ids=["bad-account", "retry-ms-not-a-number", "unknown-preset"],
)
def test_bad_configuration_answers_every_call_with_an_error_naming_the_option(
    probe: Probe, config, field
):
    """A bad option gives each call an Error outcome (code config) naming it, never a hang."""
    probe.allow(r"\[engage-web\] ")
    page = probe.open(embed_page(endpoint=None, account=None))
    page.evaluate(
        "(config) => ChatApi.init(Object.assign({endpoint: '/', accountId: 'demo'}, config))",
        config,
    )
    outcome = check(page)
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == "config"
    assert outcome["error"]["field"] == field


def test_python_callback_on_the_pyscript_example_page(probe: Probe):
    """The example page shows one outcome in a JS and a Python callback, and says why once."""
    context = probe.new_context()
    page = context.new_page()
    probe.watch(page)
    page.goto(probe.base_url + "/examples/python-callback.html")
    page.wait_for_function(
        "document.querySelector('#python-outcome').textContent.includes('Available')"
        " && document.querySelector('#js-outcome').textContent.includes('Available')"
    )
    shown = json.loads(page.text_content("#python-outcome"))
    assert shown["status"] == "Available"
    assert shown["engagementDetails"]["skillName"] == "TestSkill"
    assert json.loads(page.text_content("#js-outcome")) == shown
    assert any("this page runs PyScript" in line for line in probe.console)


PYSCRIPT_CHATAPI_PAGE = """<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,">
<script type="module" src="/pyscript/core.js"></script>
<pre id="out">waiting</pre><pre id="retries"></pre>
<script type="py" config="/pyscript.json">
import json

from pyscript import document, window

from engage_web import ChatApi, RetryPolicy

retries = []
api = ChatApi(window.location.origin, "demo", retry=RetryPolicy.preset("default"),
              on_retry=retries.append)
outcome = await api.get_engagement({"consumerSections": ["Support", "English", "Other"]})
document.querySelector("#retries").textContent = json.dumps(retries)
document.querySelector("#out").textContent = json.dumps(outcome)
</script>"""


def test_the_python_api_runs_in_a_pyscript_page_over_pyfetch(probe: Probe, emulator: Emulator):
    """PyScript code using dist/pyscript.json imports engage_web and runs ChatApi itself: the
    check goes through pyfetch to the emulator, re-checks the warm-up, and answers Available."""
    page = probe.open(PYSCRIPT_CHATAPI_PAGE)
    page.wait_for_function("document.querySelector('#out').textContent !== 'waiting'")
    outcome = json.loads(page.text_content("#out"))
    assert outcome["status"] == "Available", outcome
    assert outcome["engagementDetails"]["skillName"] == "TestSkill"
    assert [r["reason"] for r in json.loads(page.text_content("#retries"))] == ["NotAvailable"]
    assert len(emulator.requests("/app/engagement")) == 2


def test_main_thread_long_tasks_from_load_to_the_first_outcome_are_recorded(probe: Probe):
    """Records the long-task total and the time to the first outcome (a figure, not a limit)."""
    started = time.monotonic()
    page = probe.open(embed_page(body=RECORD_EVENTS))
    outcome = page.evaluate(
        """(params) => ChatApi.getEngagement(params).then((outcome) => {
          window.__firstOutcomeAt = performance.now();
          return outcome;
        })""",
        SEED_PARAMS,
    )
    figures = page.evaluate(
        """() => ({
          firstOutcomeMs: Math.round(window.__firstOutcomeAt),
          longTasks: window.__longTasks,
          longTaskTotalMs: Math.round(window.__longTasks.reduce((s, t) => s + t.duration, 0)),
          bootMs: (window.__events.onReady[0] || {}).bootMs,
        })"""
    )
    figures["status"] = outcome["status"]
    figures["wallSeconds"] = round(time.monotonic() - started, 2)
    path = write_artifact("longtasks.json", figures)
    print(
        f"\nmain-thread long tasks: {figures['longTaskTotalMs']} ms in "
        f"{len(figures['longTasks'])} task(s); first outcome at {figures['firstOutcomeMs']} ms "
        f"(worker boot {figures['bootMs']} ms) -> {path}"
    )
    assert outcome["status"] == "Available"


def test_a_facade_from_another_origin_starts_its_worker_from_a_blob(probe: Probe):
    """engage.js served by another origin (with CORS) still works: a same-origin blob worker."""
    from tests.browser.conftest import ROOT
    from tools.devserver import ServerThread, create_dev_app

    other = ServerThread(create_dev_app(ROOT, cors_origins=("*",)))
    cdn_like = other.start()  # http://127.0.0.1:<port>; the page lives on http://localhost:<port>
    try:
        host = cdn_like.replace("127.0.0.1", "localhost") + "/host.html"
        html = embed_page(endpoint=None, account=None, body=RECORD_EVENTS).replace(
            '<script src="/engage.js"',
            f'<script src="{cdn_like}/engage.js" data-endpoint="{cdn_like}" '
            'data-account-id="demo" data-debug',
        )
        # The host page is fulfilled by Playwright (a "public" page to Chromium): let it reach
        # the loopback server, as a real public page reaches a public CDN.
        context = probe.new_context(permissions=["local-network-access"])
        context.route(host, lambda route: route.fulfill(content_type="text/html", body=html))
        page = context.new_page()
        probe.watch(page)
        page.goto(host)

        outcome = check(page)

        assert outcome["status"] == "Available"
        assert [w.url[:5] for w in page.workers] == ["blob:"]
        assert any("same-origin blob worker" in line for line in probe.console)
    finally:
        other.stop()


@pytest.mark.parametrize(
    ("files", "says"),
    [
        (("engage.js",), "worker failed to load"),
        (("engage.js", "engage-worker.mjs", "engage-config.mjs"), "Python runtime could not start"),
    ],
    ids=["worker-script-missing", "pyodide-missing"],
)
def test_a_runtime_that_cannot_start_answers_every_call_with_an_error(
    probe: Probe, dist_dir: Path, files: tuple[str, ...], says: str
):
    """If the worker or Pyodide cannot load, calls made before and after resolve with Error."""
    probe.allow(r"\[engage-web\]|Failed to load resource|dynamically imported module|404")
    scratch = dist_dir / ".engage-test-broken"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        for name in files:  # the rest (worker or pyodide/) is missing from this copy
            shutil.copy(dist_dir / name, scratch / name)
        early = "<script>window.__early = ChatApi.getEngagement({});</script>"
        html = embed_page(body=early).replace(
            'src="/engage.js"', 'src="/.engage-test-broken/engage.js"'
        )
        page = probe.open(html)

        outcomes = [page.evaluate("window.__early"), check(page)]

        for outcome in outcomes:
            assert outcome["status"] == "Error"
            assert outcome["error"]["code"] == "runtime"
            assert says in outcome["error"]["message"]
        assert page.evaluate("window.__rejections") == []
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.mark.parametrize(
    ("call", "says"),
    [
        (
            "ChatApi.bind('onClick', function () {})",
            'one of onEngagement, onRetry, onAttempt, onReady; got "onClick"',
        ),
        (
            "ChatApi.bind('onEngagement', 42)",
            'a function, {callback, context} or an array of those; got number "42"',
        ),
        ("ChatApi.bind('onRetry', [function () {}, {context: 1}])", "got an array"),
        ("ChatApi.unbind('onEngagment', function () {})", 'got "onEngagment"'),
        ("ChatApi.init('demo')", 'config must be an object; got string "demo"'),
    ],
    ids=["unknown-event", "not-callable", "array-with-a-bad-item", "unbind-typo", "init-string"],
)
def test_misuse_of_the_api_is_refused_with_a_clear_console_error(
    probe: Probe, call: str, says: str
):
    """Bad bind/unbind/init arguments return false and say what is allowed and what came."""
    probe.allow(r"\[engage-web\] ")
    page = probe.open(embed_page())
    assert page.evaluate(call) is False
    assert any(says in line for line in probe.console if line.startswith("error:")), probe.console


def test_watch_reports_the_first_outcome_and_then_each_change(probe: Probe, emulator: Emulator):
    """ChatApi.watch fires onEngagement for the first answer and again when availability flips."""
    page = probe.open(embed_page(body=RECORD_EVENTS))
    options = {"intervalMs": 300, "minIntervalMs": 100, "outageIntervalMs": 100}
    assert page.evaluate(
        "([p, o]) => ChatApi.watch(p, o)", [{"consumerSections": ["Sales"]}, options]
    )
    page.wait_for_function("window.__events.onEngagement.length === 1")
    emulator.client.post("/_emulator/skills/24", json={"agentsOnline": 1}).raise_for_status()
    page.wait_for_function("window.__events.onEngagement.length === 2")
    page.evaluate("ChatApi.unwatch()")

    statuses = [o["status"] for o in events(page, "onEngagement")]
    assert statuses == ["NotAvailable", "Available"]
    assert events(page, "onEngagement")[1]["engagementDetails"]["skillId"] == 24


def test_watch_options_that_are_wrong_come_back_as_an_error_naming_the_option(probe: Probe):
    """A bad watch option gives one onEngagement Error (code config) naming it in page terms."""
    page = probe.open(embed_page(body=RECORD_EVENTS))
    page.evaluate("ChatApi.watch({}, {intervalMs: 'often'})")
    page.wait_for_function("window.__events.onEngagement.length === 1")
    (outcome,) = events(page, "onEngagement")
    assert outcome["error"]["code"] == "config"
    assert outcome["error"]["field"] == "watch.intervalMs"
