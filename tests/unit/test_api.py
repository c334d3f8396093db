"""ChatApi end to end over a scripted transport and a fake clock: one outcome per call, always."""

import asyncio
import json
import logging
import sys
import types

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engage_web.core.errors import ConfigError
from engage_web.core.retry import RetryPolicy
from engage_web.core.session import MemorySessionStore, Session
from engage_web.core.transport import HttpResponse
from engage_web.driver.api import ChatApi
from tests.fakes import (
    HANG,
    SEED_REQUEST,
    FakeClock,
    ScriptedTransport,
    available,
    error_answer,
    gated,
    json_answer,
    network_down,
    not_available,
    run,
    settle,
    timed_out,
)

ENDPOINT = "https://emulator.test"


class Harness:
    """A ChatApi over a scripted transport, recording every callback."""

    def __init__(self, *script, retry=None, auto=True, store=None, **kwargs):
        self.transport = ScriptedTransport(*script)
        self.clock = FakeClock(auto_advance=auto)
        self.outcomes = []
        self.retries = []
        self.api = ChatApi(
            ENDPOINT,
            "demo",
            on_engagement=self.outcomes.append,
            on_retry=self.retries.append,
            retry=retry if retry is not None else RetryPolicy(jitter=0.0),
            transport=self.transport,
            clock=self.clock,
            session_store=store,
            random=lambda: 0.5,
            **kwargs,
        )

    def check(self, params=None):
        return run(self.api.get_engagement(params))

    def queries(self):
        """Each request's target after ``app/engagement/``: ``visitors[/{vid}]?v=1.0[&sid=]``."""
        return [r.url.split("/app/engagement/", 1)[1] for r in self.transport.requests]


def test_available_at_once_sends_the_normalised_request():
    """The seed request is sent once as the contract's body; the answer is the outcome."""
    h = Harness(available())
    outcome = h.check(SEED_REQUEST)
    assert outcome["status"] == "Available"
    assert h.outcomes == [outcome]
    assert h.retries == []
    request = h.transport.requests[0]
    assert request.method == "POST"
    assert request.url == f"{ENDPOINT}/api/account/demo/app/engagement/visitors?v=1.0"
    assert request.headers == {"Content-Type": "application/json", "Accept": "application/json"}
    body = json.loads(request.body)
    assert set(body) == {"appType", "appDetails", "consumerSections", "engagementAttributes"}
    assert body["consumerSections"] == ["Support", "English", "Other"]
    assert h.api.session == Session("v1", "s1")
    assert h.api.page_id == "p1"


def test_not_available_then_available():
    """A NotAvailable answer is re-checked after 1 s with its ids, and the Available one wins."""
    h = Harness(not_available(), available(status=200))
    outcome = h.check()
    assert outcome["status"] == "Available"
    assert h.retries == [{"attempt": 2, "delayMs": 1000, "reason": "NotAvailable"}]
    assert h.clock.sleeps == [1.0]
    assert h.queries() == ["visitors?v=1.0", "visitors/v1?v=1.0&sid=s1"]
    assert len(h.outcomes) == 1


def test_503_with_retry_after_waits_exactly_that_long():
    """A 503 with Retry-After: 2 is retried after exactly 2 s."""
    h = Harness(error_answer(503, "busy", retry_after="2"), available())
    assert h.check()["status"] == "Available"
    assert h.clock.sleeps == [2.0]
    assert h.retries == [{"attempt": 2, "delayMs": 2000, "reason": "http-503"}]


def test_retry_after_http_date_is_measured_with_the_clock():
    """A Retry-After HTTP date becomes the wait from the fake clock's wall time."""
    h = Harness(error_answer(429, "slow", retry_after="Tue, 14 Nov 2023 22:13:25 GMT"), available())
    assert h.check()["status"] == "Available"
    assert h.clock.sleeps == [5.0]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (400, "appType must be EXTERNAL"),
        (401, "sid unknown"),
        (403, "forbidden"),
        (404, "unknown account 'demo'"),
        (413, "too big"),
        (415, "not JSON"),
    ],
)
def test_client_errors_are_never_retried(status, message):
    """A 4xx other than 429 is the outcome after one attempt, with the server's message."""
    h = Harness(error_answer(status, message))
    outcome = h.check()
    assert h.transport.calls == 1
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == status
    assert outcome["error"]["message"] == message
    assert h.retries == []
    assert h.clock.sleeps == []


def test_network_failures_until_retries_run_out():
    """Four network failures give one Error outcome saying 4 attempts were made."""
    h = Harness(*[network_down()] * 4)
    outcome = h.check()
    assert outcome == {
        "status": "Error",
        "error": {
            "code": "network",
            "message": "Failed to fetch (gave up after 4 attempts)",
            "field": None,
            "attempts": 4,
            "transient": True,
        },
    }
    assert h.retries == [
        {"attempt": 2, "delayMs": 500, "reason": "network"},
        {"attempt": 3, "delayMs": 1000, "reason": "network"},
        {"attempt": 4, "delayMs": 2000, "reason": "network"},
    ]
    assert h.outcomes == [outcome]


def test_attempt_timeout_is_passed_on_and_classified_timeout():
    """Each attempt gets the policy's timeout; a transport timeout is reported as 'timeout'."""
    h = Harness(*[timed_out(8.0)] * 2, retry=RetryPolicy(max_retries=1, jitter=0))
    outcome = h.check()
    assert h.transport.timeouts == [8.0, 8.0]
    assert outcome["error"]["code"] == "timeout"
    assert outcome["error"]["message"] == "no answer within 8 s (gave up after 2 attempts)"
    assert h.retries[0]["reason"] == "timeout"


def test_overall_deadline_stops_the_liveperson_schedule():
    """With a 20 s deadline the 15 s wait of the liveperson schedule (5, 10, 15 s) is never
    scheduled."""
    policy = RetryPolicy.preset("liveperson").replace(deadline=20)
    h = Harness(*[error_answer(500, "down")] * 3, retry=policy)
    outcome = h.check()
    assert h.clock.sleeps == [5.0, 10.0]
    assert outcome["error"]["attempts"] == 3
    assert "would pass the 20 s deadline" in outcome["error"]["message"]


@pytest.mark.parametrize(
    "bad",
    [
        json_answer(200, "<!DOCTYPE html><p>Proxy error</p>"),
        json_answer(
            200, {"status": "Available", "sessionId": "s", "visitorId": "v", "pageId": "p"}
        ),
        json_answer(200, {"status": "Busy"}),
    ],
)
def test_a_malformed_answer_is_retried_then_reported(bad):
    """A malformed 200 is retried; if it persists the outcome is a 'malformed' Error."""
    h = Harness(bad, available())
    assert h.check()["status"] == "Available"
    assert h.retries[0]["reason"] == "malformed"
    h = Harness(*[bad] * 4)
    outcome = h.check()
    assert outcome["error"]["code"] == "malformed"
    assert outcome["error"]["attempts"] == 4


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"appType": "MOBILE"}, 400, "appType"),
        ({"sid": "456"}, 401, "sid"),
        ("not a request", 400, None),
    ],
)
def test_invalid_requests_are_not_sent(params, status, field):
    """An invalid request gives an Error outcome with status, field and every problem, unsent."""
    h = Harness()
    outcome = h.check(params)
    assert h.transport.calls == 0
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == status
    if field is not None:
        assert outcome["error"]["field"] == field
    assert outcome["error"]["errors"]
    assert outcome["error"]["errors"][0]["status"] == status
    assert h.outcomes == [outcome]


def test_session_is_reused_and_replaced_by_new_ids():
    """Later checks send the stored ids (vid in the path, sid in the query); an answer naming
    a new session (the old one expired) replaces them for the next call."""
    h = Harness(
        not_available("v1", "s1"),
        not_available("v1", "s1"),
        not_available("v1", "s2"),
        available("v1", "s2"),
        retry=RetryPolicy(not_available_rechecks=0),
    )
    for _ in range(4):
        h.check()
    assert h.queries() == [
        "visitors?v=1.0",
        "visitors/v1?v=1.0&sid=s1",
        "visitors/v1?v=1.0&sid=s1",
        "visitors/v1?v=1.0&sid=s2",
    ]
    assert h.api.session == Session("v1", "s2")


def test_params_ids_win_over_the_stored_session():
    """vid/sid in the params are sent instead of the stored session, and the answer is stored."""
    h = Harness(available("v7", "s7", status=200), store=MemorySessionStore(Session("v1", "s1")))
    h.check({"vid": "v7", "sid": "s7"})
    assert h.queries() == ["visitors/v7?v=1.0&sid=s7"]
    assert h.api.session == Session("v7", "s7")


def test_a_stored_visitor_without_session_sends_vid_alone():
    """A visitor id kept from an earlier visit is sent alone to open a new session for it."""
    h = Harness(available("v1", "s5"), store=MemorySessionStore(Session("v1")))
    h.check()
    assert h.queries() == ["visitors/v1?v=1.0"]
    assert h.api.session == Session("v1", "s5")


def test_malformed_stored_ids_are_forgotten_and_a_new_session_opened(caplog):
    """Ids mangled in storage (a hand-edited state file) are not sent, which would 401 for
    ever: the check opens a new session and stores it."""
    h = Harness(available("v2", "s2"), store=MemorySessionStore(Session("a b", "s/1")))
    h.check()
    assert h.queries() == ["visitors?v=1.0"]
    assert h.api.session == Session("v2", "s2")
    assert "malformed" in caplog.text


def test_overlapping_calls_share_the_first_session():
    """Calls made while the first one opens a session wait for it and send its ids."""

    async def scenario():
        gate = asyncio.Event()
        h = Harness(
            gated(available(), gate),
            not_available("v1", "s1", status=200),
            available("v1", "s1", status=200),
            retry=RetryPolicy(not_available_rechecks=0),
        )
        calls = [asyncio.ensure_future(h.api.get_engagement()) for _ in range(3)]
        await settle()
        assert h.transport.calls == 1  # the others wait for the first answer
        gate.set()
        outcomes = await asyncio.gather(*calls)
        return h, outcomes

    h, outcomes = run(scenario())
    assert [o["status"] for o in outcomes] == ["Available", "NotAvailable", "Available"]
    assert h.queries() == [
        "visitors?v=1.0",
        "visitors/v1?v=1.0&sid=s1",
        "visitors/v1?v=1.0&sid=s1",
    ]
    assert len(h.outcomes) == 3


def test_when_the_first_call_fails_a_waiting_call_opens_the_session():
    """If the session-opening call ends without ids, the next waiting call opens one itself."""

    async def scenario():
        gate = asyncio.Event()
        h = Harness(
            gated(error_answer(404, "unknown account"), gate), available("v2", "s2"), retry="none"
        )
        first = asyncio.ensure_future(h.api.get_engagement())
        second = asyncio.ensure_future(h.api.get_engagement())
        await settle()
        gate.set()
        return h, await asyncio.gather(first, second)

    h, (first, second) = run(scenario())
    assert first["error"]["code"] == 404
    assert second["status"] == "Available"
    assert h.queries() == ["visitors?v=1.0", "visitors?v=1.0"]
    assert h.api.session == Session("v2", "s2")


def test_cancel_during_a_wait_returns_at_once_and_leaves_no_timer():
    """api.cancel() ends a pending wait at once: a cancelled outcome, no parked sleep left."""

    async def scenario():
        h = Harness(network_down(), auto=False, store=MemorySessionStore(Session("v", "s")))
        call = asyncio.ensure_future(h.api.get_engagement())
        await settle()
        assert h.clock.pending == [100.5]
        assert h.api.pending == 1
        assert h.api.cancel() == 1
        outcome = await call
        return h, outcome

    h, outcome = run(scenario())
    assert outcome == {
        "status": "Error",
        "error": {
            "code": "cancelled",
            "message": "cancelled by ChatApi.cancel()",
            "field": None,
            "attempts": 1,
            "transient": True,
        },
        "visitorId": "v",
        "sessionId": "s",
    }
    assert h.clock.pending == []
    assert h.outcomes == [outcome]
    assert h.api.pending == 0


def test_cancel_during_an_exchange_aborts_it():
    """api.cancel() while a request is in flight aborts the exchange and returns cancelled."""

    async def scenario():
        h = Harness(HANG)
        call = asyncio.ensure_future(h.api.get_engagement())
        await settle()
        h.api.cancel()
        return h, await call

    h, outcome = run(scenario())
    assert outcome["error"]["code"] == "cancelled"
    assert h.transport.aborted == 1
    assert h.transport.in_flight == 0


def test_cancelling_the_awaiting_task_still_delivers_one_outcome():
    """If the caller's task is cancelled, callbacks get the cancelled outcome and it re-raises."""

    async def scenario():
        h = Harness(network_down(), auto=False)
        call = asyncio.ensure_future(h.api.get_engagement())
        await settle()
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        return h

    h = run(scenario())
    assert [o["error"]["code"] for o in h.outcomes] == ["cancelled"]
    assert h.clock.pending == []


def test_close_cancels_pending_calls_and_refuses_new_ones():
    """Leaving `async with` cancels pending calls; a closed api answers 'cancelled' unsent."""

    async def scenario():
        h = Harness(network_down(), auto=False)
        async with h.api as api:
            call = asyncio.ensure_future(api.get_engagement())
            await settle()
        first = await call
        later = await h.api.get_engagement()
        return h, first, later

    h, first, later = run(scenario())
    assert first["error"]["message"] == "cancelled: the ChatApi was closed"
    assert later["error"]["code"] == "cancelled"
    assert h.transport.calls == 1
    assert len(h.outcomes) == 2


def test_binding_forms_and_unbind():
    """Functions, {callback, context} and lists all receive the outcome; unbind removes them."""
    seen = []

    class Widget:
        def show(self, outcome):
            seen.append(("widget", outcome["status"]))

    widget = Widget()

    def plain(outcome):
        seen.append(("plain", outcome["status"]))

    def with_this(this, outcome):
        seen.append((this, outcome["status"]))

    async def later(outcome):
        await asyncio.sleep(0)
        seen.append(("async", outcome["status"]))

    h = Harness(available(), available(status=200))
    h.api.bind("onEngagement", [plain, {"callback": with_this, "context": "ctx"}])
    h.api.bind("on_engagement", widget.show)
    h.api.bind("onEngagement", {"callback": later})
    h.check()
    assert seen == [
        ("plain", "Available"),
        ("ctx", "Available"),
        ("widget", "Available"),
        ("async", "Available"),
    ]
    assert h.api.unbind("onEngagement", [plain, {"callback": with_this, "context": "ctx"}]) == 2
    assert h.api.unbind("onEngagement", widget.show) == 1
    seen.clear()
    h.check()
    assert seen == [("async", "Available")]


def test_a_raising_callback_is_logged_and_does_not_stop_the_others(caplog):
    """A callback that raises is logged on 'engage_web'; later callbacks and the call go on."""

    def broken(outcome):
        raise RuntimeError("page bug")

    h = Harness(network_down(), available())
    h.api.bind("onRetry", broken)
    h.api.bind("onEngagement", [broken])
    with caplog.at_level(logging.ERROR, logger="engage_web"):
        outcome = h.check()
    assert outcome["status"] == "Available"
    assert len(h.outcomes) == 1
    assert len(h.retries) == 1
    assert [r.name for r in caplog.records] == ["engage_web", "engage_web"]
    assert "page bug" in caplog.text


def test_callbacks_get_their_own_copy_of_the_outcome():
    """A callback editing its outcome changes neither the next callback's nor the returned one."""

    def vandal(outcome):
        outcome["status"] = "Hacked"

    h = Harness(available())
    h.api.unbind("onEngagement")
    h.api.bind("onEngagement", [vandal, h.outcomes.append])
    assert h.check()["status"] == "Available"
    assert h.outcomes[0]["status"] == "Available"


def test_report_updates_the_session_with_the_last_page_id():
    """report PUTs an update of the current session for the last pageId, impression events
    and other SDEs split in two arrays, retrying a 503; LivePerson's empty 200 is success."""
    h = Harness(
        available("v1", "s1", page="p9"),
        error_answer(503, "busy", retry_after="1"),
        HttpResponse(200, {}, ""),
    )
    h.check()
    imp = {"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}
    cart = {"type": "cart", "total": 10, "numItems": 1}
    outcome = run(h.api.report([cart, imp]))
    assert outcome == {"status": "Reported", "delivered": True}
    put = h.transport.requests[1]
    assert put.method == "PUT"
    assert put.url == f"{ENDPOINT}/api/account/demo/app/engagement/visitors/v1?v=1.0&sid=s1"
    assert json.loads(put.body) == {
        "pageId": "p9",
        "impAttributes": [imp],
        "engagementAttributes": [cart],
    }
    assert h.transport.requests[2].url == put.url
    assert h.clock.sleeps == [1.0]
    assert len(h.outcomes) == 1  # reports do not fire onEngagement


def test_report_without_a_session_is_refused_unsent():
    """A report before any check is a 401 Error outcome saying it was not delivered."""
    h = Harness()
    outcome = run(h.api.report([{"type": "searchInfo", "keywords": ["x"]}]))
    assert outcome["error"]["code"] == 401
    assert "call get_engagement first" in outcome["error"]["message"]
    assert outcome["delivered"] is False
    assert h.transport.calls == 0


@pytest.mark.parametrize(
    ("script", "code"),
    [([error_answer(401, "session expired")], 401), ([network_down()] * 4, "network")],
)
def test_report_failures_say_not_delivered(script, code):
    """A report the server refused, or that never got through, says delivered: false."""
    h = Harness(*script, store=MemorySessionStore(Session("v", "s")))
    outcome = run(h.api.report([{"type": "searchInfo", "keywords": ["x"]}], page_id="p1"))
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == code
    assert outcome["delivered"] is False


def test_invalid_report_is_refused_unsent():
    """Invalid SDEs in a report give a 400 Error outcome, not delivered, nothing sent."""
    h = Harness(store=MemorySessionStore(Session("v", "s")))
    outcome = run(h.api.report([], page_id="p1"))
    assert outcome["error"]["code"] == 400
    assert outcome["error"]["field"] == "engagementAttributes"
    assert outcome["delivered"] is False
    assert h.transport.calls == 0


def test_report_without_a_page_id_is_refused_unsent():
    """An update session needs the pageId of the answer it belongs to: with none known (a
    session restored from storage, no check on this page) the report is a 400 naming pageId."""
    h = Harness(store=MemorySessionStore(Session("v", "s")))
    outcome = run(h.api.report([{"type": "searchInfo", "keywords": ["x"]}]))
    assert outcome["error"]["code"] == 400
    assert outcome["error"]["field"] == "pageId"
    assert "getEngagement first" in outcome["error"]["message"]
    assert outcome["delivered"] is False
    assert h.transport.calls == 0


def test_report_with_method_override_posts_with_the_override_header():
    """With method_override, the update travels as POST + X-HTTP-Method-Override: PUT (for
    CORS allow-lists without PUT), to the same URL and with the same body."""
    h = Harness(HttpResponse(200, {}, ""), store=MemorySessionStore(Session("v", "s")),
                method_override=True)
    outcome = run(h.api.report([{"type": "searchInfo", "keywords": ["x"]}], page_id="p1"))
    assert outcome["delivered"] is True
    request = h.transport.requests[0]
    assert (request.method, request.headers["X-HTTP-Method-Override"]) == ("POST", "PUT")
    assert request.url.endswith("/visitors/v?v=1.0&sid=s")


@pytest.mark.parametrize(
    ("kwargs", "option", "words"),
    [
        ({"endpoint": "ftp://x"}, "endpoint", ["http:// or https://", "'ftp://x'"]),
        ({"endpoint": "http://h/?a=1"}, "endpoint", ["no query"]),
        ({"endpoint": "localhost:8765"}, "endpoint", ["'localhost:8765'"]),
        ({"endpoint": 42}, "endpoint", ["got 42"]),
        ({"endpoint": None, "domain_api": "http://api.example"}, "domain_api", ["https://"]),
        ({"method_override": "yes"}, "method_override", ["true or false"]),
        ({"base_cache": {}}, "base_cache", ["load_base, save_base"]),
        ({"endpoint": "http://[::1"}, "endpoint", ["'http://[::1'"]),
        ({"endpoint": "http://h:99999"}, "endpoint", ["'http://h:99999'"]),
        ({"account_id": "no spaces"}, "account_id", ["'no spaces'"]),
        ({"retry": "fast"}, "retry.preset", ["default, liveperson, none"]),
        ({"retry": {"max_retries": 99}}, "retry.max_retries", ["from 0 to 20"]),
        ({"transport": "pyfetch"}, "transport", ["async callable"]),
        ({"clock": object()}, "clock", ["monotonic, time, sleep"]),
        ({"session_store": {}}, "session_store", ["load, save"]),
        ({"on_engagement": "showChat"}, "onEngagement", ["'showChat'"]),
        ({"random": 4}, "random", ["got 4"]),
    ],
)
def test_bad_configuration_is_refused_up_front(kwargs, option, words):
    """Bad ChatApi options raise ConfigError naming the option and what was received."""
    args = {"endpoint": ENDPOINT, "account_id": "demo", **kwargs}
    with pytest.raises(ConfigError) as caught:
        ChatApi(args.pop("endpoint"), args.pop("account_id"), **args)
    assert caught.value.option == option
    for word in words:
        assert word in str(caught.value)


def test_endpoint_trailing_slash_and_path_prefix_are_kept_clean():
    """An endpoint with a path prefix and a trailing slash builds clean URLs."""
    h = Harness(available())
    api = ChatApi(
        "https://host.test/prefix/",
        "demo",
        transport=h.transport,
        clock=FakeClock(auto_advance=True),
    )
    run(api.get_engagement())
    assert h.transport.requests[0].url == (
        "https://host.test/prefix/api/account/demo/app/engagement/visitors?v=1.0"
    )


def test_default_transport_is_chosen_lazily_per_platform(monkeypatch):
    """``engage_web.ChatApi`` without a transport uses the pyfetch one, imported at the first
    exchange, when running in Pyodide (the driver itself imports no adapter)."""
    import engage_web

    fake = ScriptedTransport(available())
    module = types.ModuleType("engage_web.browser.pyfetch_transport")
    module.pyfetch_transport = fake
    monkeypatch.setitem(sys.modules, "engage_web.browser.pyfetch_transport", module)
    api = engage_web.ChatApi(ENDPOINT, "demo", clock=FakeClock(auto_advance=True))
    monkeypatch.setattr(sys, "platform", "emscripten")
    assert run(api.get_engagement())["status"] == "Available"
    assert fake.calls == 1


def test_the_driver_wants_its_transport_handed_to_it():
    """The driver's ChatApi refuses to start without a transport, and says who picks one."""
    with pytest.raises(ConfigError) as caught:
        ChatApi(ENDPOINT, "demo")
    assert caught.value.option == "transport"
    assert "engage_web.ChatApi" in caught.value.message


def test_a_transport_that_ignores_its_timeout_is_stopped_and_the_check_ends():
    """A custom transport that never answers (it ignores the timeout it is given) is cut off
    shortly after the per-attempt timeout: each attempt ends as a timeout, and the call ends
    with one timeout outcome after the policy's attempts instead of hanging for ever."""
    started = []

    async def hangs(request, timeout):  # noqa: ASYNC109 - the transport signature
        started.append(timeout)
        await asyncio.Event().wait()  # never set

    retry = RetryPolicy(jitter=0.0, max_retries=1, attempt_timeout=0.05, deadline=30)
    api = ChatApi(ENDPOINT, "demo", transport=hangs, clock=FakeClock(auto_advance=True),
                  retry=retry, random=lambda: 0.5)
    outcome = run(api.get_engagement({}))
    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == "timeout"
    assert outcome["error"]["attempts"] == 2
    assert "ignored its timeout" in outcome["error"]["message"]
    assert started == [0.05, 0.05]


def test_a_transport_raising_timeout_error_is_an_attempt_timeout():
    """A transport that signals its timeout with the built-in TimeoutError gets a timeout
    outcome (retried as one), not a network failure."""
    retries = []

    async def times_out(request, timeout):  # noqa: ASYNC109 - the transport signature
        raise TimeoutError("timed out")

    retry = RetryPolicy(jitter=0.0, max_retries=1)
    api = ChatApi(ENDPOINT, "demo", transport=times_out, clock=FakeClock(auto_advance=True),
                  retry=retry, random=lambda: 0.5, on_retry=retries.append)
    outcome = run(api.get_engagement({}))
    assert outcome["error"]["code"] == "timeout"
    assert [r["reason"] for r in retries] == ["timeout"]


def test_a_failing_session_store_does_not_break_the_check(caplog):
    """If the page's storage refuses to save, the outcome is still delivered (and it is logged)."""

    class BrokenStore(MemorySessionStore):
        def save(self, session):
            raise OSError("quota exceeded")

    h = Harness(available(), store=BrokenStore())
    with caplog.at_level(logging.ERROR, logger="engage_web"):
        assert h.check()["status"] == "Available"
    assert "session store failed" in caplog.text


# -- exactly one outcome per call, whatever happens ----------------------------------------------

SCRIPT_ITEMS = st.sampled_from(
    [
        "available",
        "not_available",
        "503",
        "429-date",
        "500",
        "400",
        "404",
        "html",
        "network",
        "timeout",
        "bogus",
    ]
)


def build(item):
    return {
        "available": lambda: available(),
        "not_available": lambda: not_available(),
        "503": lambda: error_answer(503, "busy", retry_after="1"),
        "429-date": lambda: error_answer(429, "slow", retry_after="Tue, 14 Nov 2023 22:13:21 GMT"),
        "500": lambda: error_answer(500, "down"),
        "400": lambda: error_answer(400, "bad"),
        "404": lambda: error_answer(404, "who"),
        "html": lambda: HttpResponse(200, {"content-type": "text/html"}, "<html>"),
        "network": lambda: network_down(),
        "timeout": lambda: timed_out(),
        "bogus": lambda: ValueError("transport bug"),
    }[item]()


@settings(max_examples=max(1, settings().max_examples // 2), deadline=None)
@given(
    script=st.lists(SCRIPT_ITEMS, min_size=1, max_size=12),
    max_retries=st.integers(0, 4),
    rechecks=st.integers(0, 3),
    deadline=st.sampled_from([3.0, 30.0]),
    rand=st.floats(0, 1, exclude_max=True),
)
def test_exactly_one_outcome_per_call_for_any_script(script, max_retries, rechecks, deadline, rand):
    """Whatever the server and network do, a call returns one outcome and emits it once."""
    policy = RetryPolicy(
        max_retries=max_retries, not_available_rechecks=rechecks, deadline=deadline
    )
    h = Harness(*[build(item) for item in script], retry=policy)
    h.api._rand = lambda: rand
    outcome = h.check()
    assert h.outcomes == [outcome]
    assert outcome["status"] in {"Available", "NotAvailable", "Error"}
    assert h.transport.calls <= 1 + max_retries + rechecks
    assert len(h.retries) == h.transport.calls - 1
    assert sum(h.clock.sleeps) <= deadline
    if outcome["status"] == "Error":
        assert outcome["error"]["attempts"] == h.transport.calls
        assert outcome["error"]["message"]


def test_cancel_reaches_a_call_waiting_for_the_session():
    """A call parked behind the session-opening call is cancelled too, without sending."""

    async def scenario():
        gate = asyncio.Event()
        h = Harness(gated(available(), gate))
        first = asyncio.ensure_future(h.api.get_engagement())
        second = asyncio.ensure_future(h.api.get_engagement())
        await settle()
        assert h.api.cancel() == 2
        return h, await asyncio.gather(first, second)

    h, outcomes = run(scenario())
    assert [o["error"]["code"] for o in outcomes] == ["cancelled", "cancelled"]
    assert [o["error"]["attempts"] for o in outcomes] == [1, 0]
    assert h.transport.calls == 1
    assert len(h.outcomes) == 2


def test_watch_rechecks_on_schedule_and_emits_only_changes():
    """A watch re-checks every interval and fires onEngagement only when the answer changes."""

    async def scenario():
        h = Harness(
            not_available(),
            not_available(status=200),
            available(status=200),
            error_answer(404, "account gone"),
            retry=RetryPolicy(not_available_rechecks=0),
        )
        watcher = h.api.watch(policy={"interval": 60})
        await watcher.wait_stopped()
        return h, watcher

    h, watcher = run(scenario())
    assert [o["status"] for o in h.outcomes] == ["NotAvailable", "Available", "Error"]
    assert h.outcomes[-1]["error"]["code"] == 404  # a final error ends the watch
    assert (watcher.checks, watcher.emitted) == (4, 3)
    assert h.clock.sleeps == [60.0, 60.0, 60.0]


def test_cancel_stops_a_watch_silently():
    """api.cancel() ends a watch at once: no timer left, nothing more emitted."""

    async def scenario():
        h = Harness(not_available(), auto=False, retry=RetryPolicy(not_available_rechecks=0))
        watcher = h.api.watch()
        await settle()
        assert h.clock.pending == [160.0]
        h.api.cancel()
        await watcher.wait_stopped()
        return h, watcher

    h, watcher = run(scenario())
    assert not watcher.running
    assert h.clock.pending == []
    assert [o["status"] for o in h.outcomes] == ["NotAvailable"]


def returns_none_then(*answers):
    """A transport that first returns None (a broken transport), then plays ``answers``."""
    script = ScriptedTransport(*answers)
    calls = []

    async def transport(request, timeout):  # noqa: ASYNC109
        calls.append(request)
        return None if len(calls) == 1 else await script(request, timeout)

    return transport


@pytest.mark.parametrize(
    ("first", "message"),
    [
        ("none", "the transport returned None, not an HttpResponse"),
        (asyncio.CancelledError(), "the exchange was aborted"),
    ],
)
def test_a_misbehaving_transport_is_a_network_failure(first, message):
    """A transport returning junk or aborting by itself counts as a network failure, retried."""
    for retry, expected in ((None, "Available"), ("none", "Error")):
        h = Harness(first, available(), retry=retry)
        if first == "none":
            h.api._transport = returns_none_then(available())
        outcome = h.check()
        assert outcome["status"] == expected
        assert h.outcomes == [outcome]
    assert outcome["error"]["code"] == "network"
    assert message in outcome["error"]["message"]


def test_a_store_that_cannot_load_means_no_session(caplog):
    """If the page's storage cannot be read, the check runs without ids instead of failing."""

    class Unreadable(MemorySessionStore):
        def load(self):
            raise OSError("storage disabled")

    h = Harness(available(), store=Unreadable())
    assert h.check()["status"] == "Available"
    assert h.queries() == ["visitors?v=1.0"]
    assert "session store failed to load" in caplog.text
