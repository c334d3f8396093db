"""The worker's Python side under CPython: JSON messages in, JSON answers and events out.

``WorkerHost`` is driven exactly as engage-worker.mjs drives it in the browser, with the shared
fakes (``tests/fakes.py``) standing in for pyfetch and the timers: nothing really waits.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from engage_web.browser.worker import (
    WorkerHost,
    js_option_name,
    retry_event_to_js,
    retry_options_from_js,
)
from engage_web.core.errors import ConfigError
from engage_web.core.transport import HttpResponse
from tests.fakes import (
    EPOCH,
    HANG,
    SEED_REQUEST,
    FakeClock,
    ScriptedTransport,
    available,
    domain,
    not_available,
    run,
    settle,
)

CONFIG = {"endpoint": "https://emulator.test", "accountId": "demo"}


class Page:
    """What the page would receive: every message the host posts or answers, decoded."""

    def __init__(self, transport: ScriptedTransport, clock: FakeClock | None = None) -> None:
        self.posted: list[dict[str, Any]] = []
        self.transport = transport
        self.host = WorkerHost(
            lambda text: self.posted.append(json.loads(text)),
            transport=transport,
            clock=clock or FakeClock(auto_advance=True),
            rand=lambda: 0.5,  # no jitter: the outbox's waits are exact
        )

    async def send(self, message: dict[str, Any]) -> dict[str, Any] | None:
        answer = await self.host.handle(json.dumps(message))
        return None if answer is None else json.loads(answer)

    def posted_of(self, *kinds: str) -> list[dict[str, Any]]:
        """The posted messages of these types, in order."""
        return [m for m in self.posted if m["type"] in kinds]

    def targets(self) -> list[str]:
        """What follows ``/app/engagement/`` in each request's URL."""
        return [r.url.split("/app/engagement/", 1)[1] for r in self.transport.requests]


def test_a_check_answers_with_its_outcome_and_posts_on_retry_events_in_page_units():
    """init answers ready; a check posts onAttempt {attempt, stage, method, url} before each
    request and onRetry {attempt, delayMs, reason} before each wait, then its outcome."""
    page = Page(ScriptedTransport(not_available(), available(status=200)))

    async def scenario() -> tuple[Any, Any]:
        ready = await page.send({"type": "init", "config": CONFIG})
        answer = await page.send({"type": "check", "id": 7, "params": SEED_REQUEST})
        return ready, answer

    ready, answer = run(scenario())
    # callBoundMs: the default policy's 30 s deadline + 8 s attempt + 5 s slack (engage.js
    # declares a worker dead that stays silent longer than that with calls in flight)
    # outboxRetryMs: the outbox policy's first wait (5 s), for failures the worker never answers
    assert ready == {"type": "ready", "callBoundMs": 43000, "outboxRetryMs": 5000}
    assert answer["type"] == "outcome"
    assert answer["id"] == 7
    assert answer["outcome"]["status"] == "Available"
    visitors = "https://emulator.test/api/account/demo/app/engagement/visitors"
    assert page.posted_of("attempt", "retry") == [
        {"type": "attempt", "event": {"attempt": 1, "stage": "check", "method": "POST",
                                      "url": f"{visitors}?v=1.0"}},
        {"type": "retry", "event": {"attempt": 2, "delayMs": 1000, "reason": "NotAvailable"}},
        {"type": "attempt", "event": {"attempt": 2, "stage": "check", "method": "POST",
                                      "url": f"{visitors}/v1?v=1.0&sid=s1"}},
    ]


@pytest.mark.parametrize(
    ("config", "field", "says"),
    [
        ({**CONFIG, "endpoint": "ftp://x"}, "endpoint", "http:// or https://"),
        ({**CONFIG, "accountId": "not valid!"}, "accountId", "not valid!"),
        ({**CONFIG, "retry": {"attemptTimeoutMs": "soon"}}, "retry.attemptTimeoutMs", "'soon'"),
        ({**CONFIG, "retry": {"attemptTimeoutMs": 0}}, "retry.attemptTimeoutMs", "milliseconds"),
        ({**CONFIG, "retry": {"preset": "fastest"}}, "retry.preset", "default, liveperson"),
        ({**CONFIG, "retry": {"retries": -1}}, "retry.retries", "-1"),
        ({**CONFIG, "retry": {"tries": 3}}, "retry.tries", "allowed"),
        ({**CONFIG, "retry": 5}, "retry", "5"),
        ("demo", "config", "'demo'"),
    ],
    ids=[
        "endpoint",
        "account",
        "ms-not-number",
        "ms-out-of-range",
        "preset",
        "retries",
        "unknown-option",
        "retry-not-object",
        "config-not-object",
    ],
)
def test_bad_configuration_fails_naming_the_page_option(config, field, says):
    """A bad option fails init with code 'config', the option's page (camelCase) name and value."""
    page = Page(ScriptedTransport())

    async def scenario() -> tuple[Any, Any]:
        failed = await page.send({"type": "init", "config": config})
        later = await page.send({"type": "check", "id": 1, "params": {}})
        return failed, later

    failed, later = run(scenario())
    assert failed["type"] == "failed"
    assert failed["error"]["code"] == "config"
    assert failed["error"]["field"] == field
    assert failed["error"]["message"].startswith(field + ": ")
    assert says in failed["error"]["message"]
    assert later["outcome"] == {"status": "Error", "error": failed["error"]}
    assert page.transport.calls == 0


def test_a_check_before_init_says_how_to_configure():
    """A check that arrives with no configuration gets an Error outcome naming init."""
    page = Page(ScriptedTransport())
    answer = run(page.send({"type": "check", "id": 1, "params": {}}))
    assert answer["outcome"]["error"]["code"] == "config"
    assert "ChatApi.init" in answer["outcome"]["error"]["message"]


@pytest.mark.parametrize(
    ("stored", "target"),
    [
        ({"vid": "v9", "sid": "s9"}, "visitors/v9?v=1.0&sid=s9"),
        ({"vid": "v9", "sid": None}, "visitors/v9?v=1.0"),
        ({"vid": None, "sid": None}, "visitors?v=1.0"),
        ({"vid": "bad id!", "sid": "s9"}, "visitors?v=1.0"),
        ({"vid": "v9", "sid": "x" * 65}, "visitors/v9?v=1.0"),
        (None, "visitors?v=1.0"),
    ],
    ids=["pair", "new-tab", "none", "mangled-vid", "mangled-sid", "missing"],
)
def test_the_first_check_sends_the_session_the_page_stored(stored, target):
    """The vid/sid the page kept (handed over at init) go with the first check; ids storage
    mangled are dropped by the driver (a mangled sid alone keeps the visitor)."""
    page = Page(ScriptedTransport(available()))
    kept = None
    if stored is not None:
        kept = {"local": {"vid": stored["vid"]}, "session": {"sid": stored["sid"]}}

    async def scenario() -> None:
        await page.send({"type": "init", "config": {**CONFIG, "stored": kept}})
        await page.send({"type": "check", "id": 1, "params": SEED_REQUEST})

    run(scenario())
    assert page.targets() == [target]


def test_the_worker_owns_the_session_and_tells_the_page_what_to_store():
    """The ids and page of each answer are posted as {type: "store", area, name, value} (vid in
    local storage, sid and page in session storage); a re-init for the same endpoint and
    account keeps the worker's session, newer than what the page had stored when it sent it."""
    page = Page(ScriptedTransport(available("v1", "s1"), available("v1", "s1", status=200)))

    async def scenario() -> None:
        await page.send({"type": "init", "config": CONFIG})
        await page.send({"type": "check", "id": 1, "params": {}})
        stale = {"local": {"vid": "old"}, "session": {}}
        await page.send({"type": "init", "config": {**CONFIG, "retry": "none", "stored": stale}})
        await page.send({"type": "check", "id": 2, "params": {}})

    run(scenario())
    assert page.targets()[1] == "visitors/v1?v=1.0&sid=s1"
    stores = [(m["area"], m["name"], m["value"]) for m in page.posted_of("store")]
    assert stores == [("local", "vid", "v1"), ("session", "sid", "s1"), ("session", "page", "p1")]


def test_a_worker_without_a_session_takes_the_one_another_tab_stored_since_init():
    """A call brings what the page stores now: a worker that holds no session yet continues the
    visitor another tab of the site opened after this one's init (same vid, its own sid), and
    once it holds one, older ids from the page do not replace it."""
    page = Page(ScriptedTransport(available("v1", "s2"), available("v1", "s2", status=200)))
    other_tab = {"local": {"vid": "v1"}, "session": {}}

    async def scenario() -> None:
        await page.send({"type": "init", "config": CONFIG})
        await page.send({"type": "check", "id": 1, "params": {}, "stored": other_tab})
        await page.send({"type": "check", "id": 2, "params": {},
                         "stored": {"local": {"vid": "v0"}, "session": {"sid": "s0"}}})

    run(scenario())
    assert page.targets() == ["visitors/v1?v=1.0", "visitors/v1?v=1.0&sid=s2"]


def test_a_report_that_time_can_cure_says_when_the_outbox_tries_again():
    """A report that fails for a reason time can cure carries retryInMs from the outbox policy,
    growing with the failures in a row (backoff); a delivered one starts the count again."""
    failing, ok = HttpResponse(503, {}, ""), HttpResponse(200, {}, "")
    page = Page(ScriptedTransport(available("v1", "s1"), failing, failing, ok, failing))
    page.host._rand = lambda: 0.5  # no jitter
    impression = {"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}

    async def scenario() -> list[dict[str, Any]]:
        await page.send({"type": "init", "config": {**CONFIG, "retry": "none"}})
        await page.send({"type": "check", "id": 1, "params": {}})
        results = []
        for n in range(4):
            answer = await page.send({"type": "report", "id": 2 + n,
                                      "engagementAttributes": [impression], "pageId": None})
            results.append(answer["result"])
        return results

    results = run(scenario())
    assert [r.get("retryInMs") for r in results] == [5000, 10000, None, 5000]
    assert [r["delivered"] for r in results] == [False, False, True, False]
    assert results[0]["error"]["transient"] is True


def test_a_queued_report_goes_to_its_own_session_and_leaves_the_current_one_alone():
    """A report carrying the ids of an earlier visit (the page's outbox) is PUT to that visit,
    and the next check still continues the engine's current session."""
    page = Page(
        ScriptedTransport(
            available("v1", "s2"),
            HttpResponse(200, {}, ""),
            available("v1", "s2"),
        )
    )
    impression = {"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}

    async def scenario() -> Any:
        await page.send({"type": "init", "config": CONFIG})
        await page.send({"type": "check", "id": 1, "params": {}})
        answer = await page.send(
            {"type": "report", "id": 2, "engagementAttributes": [impression], "pageId": "p0",
             "session": {"vid": "v1", "sid": "s1"}}
        )
        await page.send({"type": "check", "id": 3, "params": {}})
        return answer

    answer = run(scenario())
    assert answer["result"]["delivered"] is True
    assert page.transport.requests[1].method == "PUT"
    assert json.loads(page.transport.requests[1].body)["pageId"] == "p0"
    assert page.targets()[1:] == ["visitors/v1?v=1.0&sid=s1", "visitors/v1?v=1.0&sid=s2"]


def test_report_goes_to_the_current_session():
    """A report message is an update of the session of the last answer, for its page, and is
    answered 'reported'."""
    page = Page(ScriptedTransport(available("v1", "s1"), HttpResponse(200, {}, "")))
    impression = {"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}

    async def scenario() -> Any:
        await page.send({"type": "init", "config": CONFIG})
        await page.send({"type": "check", "id": 1, "params": {}})
        return await page.send(
            {"type": "report", "id": 2, "engagementAttributes": [impression], "pageId": None}
        )

    answer = run(scenario())
    request = page.transport.requests[1]
    assert request.method == "PUT"
    assert page.targets()[1] == "visitors/v1?v=1.0&sid=s1"
    assert json.loads(request.body) == {
        "pageId": "p1", "impAttributes": [impression], "engagementAttributes": []
    }
    assert answer["type"] == "reported"
    assert answer["id"] == 2
    assert answer["result"]["delivered"] is True


def test_cancel_ends_a_waiting_check_with_a_cancelled_outcome_and_no_timer_left():
    """A cancel message ends a check that waits to re-check: outcome 'cancelled', no timer left."""
    clock = FakeClock()
    page = Page(ScriptedTransport(not_available(), HANG), clock)

    async def scenario() -> Any:
        await page.send({"type": "init", "config": CONFIG})
        check = asyncio.ensure_future(page.send({"type": "check", "id": 1, "params": {}}))
        await settle()
        assert clock.pending  # waiting for the re-check
        assert await page.send({"type": "cancel"}) is None
        return await check

    answer = run(scenario())
    assert answer["outcome"]["error"]["code"] == "cancelled"
    assert clock.pending == []


def test_retry_options_from_the_page_set_the_engine_policy():
    """camelCase millisecond options reach the engine in seconds (the attempt timeout here)."""
    page = Page(ScriptedTransport(available()))

    async def scenario() -> None:
        config = {**CONFIG, "retry": {"preset": "none", "attemptTimeoutMs": 1500}}
        await page.send({"type": "init", "config": config})
        await page.send({"type": "check", "id": 1, "params": {}})

    run(scenario())
    assert page.transport.timeouts == [1.5]


@pytest.mark.parametrize(
    ("message", "answer_type", "field"),
    [
        ('{"type": "launch", "id": 3}', "outcome", "type"),
        ('{"type": "launch"}', "failed", "type"),
        ("not json", "failed", "type"),
        ("[1, 2]", "failed", "type"),
    ],
    ids=["unknown-with-id", "unknown-without-id", "not-json", "not-an-object"],
)
def test_unknown_or_unreadable_messages_get_a_clear_error(message, answer_type, field):
    """A message the worker cannot serve is answered with an Error naming what is expected."""
    host = WorkerHost(post=lambda text: None)
    answer = json.loads(run(host.handle(message)))
    assert answer["type"] == answer_type
    error = answer["outcome"]["error"] if answer_type == "outcome" else answer["error"]
    assert error["field"] == field
    assert "expected init, check, report, cancel, watch or unwatch" in error["message"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (None, None),
        ("liveperson", {"preset": "liveperson"}),
        ({"attemptTimeoutMs": 2500, "deadlineMs": 60000}, {"attempt_timeout": 2.5, "deadline": 60}),
        ({"scheduleMs": [10000, 30000]}, {"schedule": [10.0, 30.0]}),
        ({"retries": 1, "jitter": 0}, {"max_retries": 1, "jitter": 0}),
        ({"notAvailableRechecks": 4}, {"not_available_rechecks": 4}),
    ],
)
def test_retry_options_from_js(options, expected):
    """Page retry options become the engine's snake_case names, milliseconds become seconds."""
    assert retry_options_from_js(options) == expected


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ({"deadlineMs": "60s"}, "retry.deadlineMs"),
        ({"deadlineMs": float("nan")}, "retry.deadlineMs"),
        ({"deadlineMs": True}, "retry.deadlineMs"),
        ({"scheduleMs": 100}, "retry.scheduleMs"),
        ({"scheduleMs": [100, "x"]}, "retry.scheduleMs"),
        ([1], "retry"),
    ],
)
def test_retry_options_from_js_refuses_non_numbers(options, option):
    """A millisecond option that is not a finite number is refused, naming it."""
    with pytest.raises(ConfigError) as caught:
        retry_options_from_js(options)
    assert caught.value.option == option


@pytest.mark.parametrize(
    ("option", "config", "expected"),
    [
        ("endpoint", {}, "endpoint"),
        ("account_id", {}, "accountId"),
        ("retry.attempt_timeout", {"retry": {"attemptTimeoutMs": 1}}, "retry.attemptTimeoutMs"),
        ("retry.attempt_timeout", {"retry": {"attempt_timeout": 1}}, "retry.attemptTimeout"),
        ("retry.max_retries", {"retry": {"retries": 99}}, "retry.retries"),
        ("retry.max_retries", {"retry": {"maxRetries": 99}}, "retry.maxRetries"),
    ],
)
def test_js_option_name(option, config, expected):
    """Engine option names in errors are given back in the spelling the page used."""
    assert js_option_name(option, config) == expected


def test_retry_event_to_js_converts_seconds_and_names():
    """An engine retry event in seconds/snake_case becomes the page's milliseconds/camelCase."""
    assert retry_event_to_js({"attempt": 3, "delay": 0.25, "retry_after": None}) == {
        "attempt": 3,
        "delayMs": 250,
        "retryAfter": None,
    }


@pytest.mark.parametrize("then_cancel", [False, True], ids=["finishes", "cancel-reaches-it"])
def test_a_new_init_does_not_cancel_running_checks_but_cancel_still_reaches_them(then_cancel):
    """Re-configuring leaves checks under way running on the old engine; cancel stops them."""
    clock = FakeClock()
    page = Page(ScriptedTransport(not_available(), available(status=200)), clock)

    async def scenario() -> Any:
        await page.send({"type": "init", "config": CONFIG})
        first = asyncio.ensure_future(page.send({"type": "check", "id": 1, "params": {}}))
        await settle()
        ready = await page.send({"type": "init", "config": {**CONFIG, "retry": "none"}})
        assert ready == {"type": "ready", "callBoundMs": 21000, "outboxRetryMs": 5000}
        if then_cancel:
            await page.send({"type": "cancel"})
        else:
            clock.advance(1.0)  # the re-check is due: it runs on the old engine's policy
        return await first

    answer = run(scenario())
    if then_cancel:
        assert answer["outcome"]["error"]["code"] == "cancelled"
        assert clock.pending == []
    else:
        assert answer["outcome"]["status"] == "Available"


def test_a_watch_posts_each_changed_outcome_and_unwatch_leaves_no_timer():
    """watch posts 'engagement' for the first outcome and each change; unwatch stops its timer."""
    clock = FakeClock()
    page = Page(
        ScriptedTransport(not_available(), not_available(status=200), available(status=200)),
        clock,
    )
    options = {"intervalMs": 10000, "minIntervalMs": 1000}
    no_recheck = {**CONFIG, "retry": {"notAvailableRechecks": 0}}

    async def scenario() -> None:
        await page.send({"type": "init", "config": no_recheck})
        assert await page.send({"type": "watch", "params": {}, "options": options}) is None
        await settle()
        for _ in range(2):  # the same NotAvailable (not posted again), then Available
            clock.advance(10.0)
            await settle()
        assert await page.send({"type": "unwatch"}) is None
        await settle()

    run(scenario())
    changes = page.posted_of("engagement")
    assert [m["outcome"]["status"] for m in changes] == ["NotAvailable", "Available"]
    assert {m["type"] for m in page.posted} == {"engagement", "attempt", "store"}
    assert clock.pending == []


@pytest.mark.parametrize(
    ("options", "field"),
    [({"intervalMs": "often"}, "watch.intervalMs"), ({"every": 1}, "watch.every"), (7, "watch")],
)
def test_bad_watch_options_are_posted_as_an_error_naming_the_option(options, field):
    """A bad watch option is answered with one 'engagement' Error (code config) naming it."""
    page = Page(ScriptedTransport())

    async def scenario() -> None:
        await page.send({"type": "init", "config": CONFIG})
        await page.send({"type": "watch", "params": {}, "options": options})

    run(scenario())
    (message,) = page.posted
    assert message["type"] == "engagement"
    assert message["outcome"]["error"]["code"] == "config"
    assert message["outcome"]["error"]["field"] == field
    assert page.transport.calls == 0


def test_with_only_an_account_id_the_worker_looks_up_and_tells_the_page_the_base():
    """init without an endpoint: the first check asks the Domain API, and the base it names is
    posted to the page to keep ({type: "store", area: "local", name: "base", value: the JSON
    text of {base, resolvedAt in ms}})."""
    page = Page(ScriptedTransport(domain("127.0.0.1:8765"), available()))

    async def scenario() -> None:
        config = {"accountId": "demo", "domainApi": "http://127.0.0.1:8765"}
        await page.send({"type": "init", "config": config})
        await page.send({"type": "check", "id": 1, "params": {}})

    run(scenario())
    (stored,) = [m for m in page.posted_of("store") if m["name"] == "base"]
    assert stored["area"] == "local"
    base = json.loads(stored["value"])
    assert base["base"] == "http://127.0.0.1:8765"
    assert base["resolvedAt"] == round(EPOCH * 1000)
    assert [a["event"]["stage"] for a in page.posted_of("attempt")] == ["lookup", "check"]


@pytest.mark.parametrize(
    ("cached", "asks"),
    [
        ({"base": "https://va.test", "resolvedAt": round(EPOCH * 1000) - 60_000}, False),
        ({"base": "https://va.test", "resolvedAt": round((EPOCH - 2 * 86400) * 1000)}, True),
        ({"base": "javascript:alert(1)", "resolvedAt": round(EPOCH * 1000)}, True),
        ({"base": 7, "resolvedAt": "yesterday"}, True),
        ("{not json", True),
    ],
    ids=["fresh", "two-days-old", "mangled-url", "mangled-types", "mangled-text"],
)
def test_the_base_the_page_kept_is_used_while_fresh_and_sound(cached, asks):
    """A base the page stored (handed over at init) spares the look-up while it is less than a
    day old and a usable URL; an old or mangled one is looked up again."""
    script = [domain("va.test"), available()] if asks else [available()]
    page = Page(ScriptedTransport(*script))

    async def scenario() -> None:
        text = cached if isinstance(cached, str) else json.dumps(cached)
        config = {"accountId": "demo", "stored": {"local": {"base": text}}}
        await page.send({"type": "init", "config": config})
        await page.send({"type": "check", "id": 1, "params": {}})

    run(scenario())
    urls = [r.url for r in page.transport.requests]
    assert ("baseURI.json" in urls[0]) is asks
    assert urls[-1].startswith("https://va.test/api/account/demo/app/engagement/visitors")


def test_method_override_from_the_page_sends_reports_as_post():
    """methodOverride: true in init makes reports POST + X-HTTP-Method-Override: PUT."""
    page = Page(ScriptedTransport(available("v1", "s1"), HttpResponse(200, {}, "")))
    impression = {"type": "impDisplay", "campaign": 1, "engId": 2, "revision": 3}

    async def scenario() -> Any:
        await page.send({"type": "init", "config": {**CONFIG, "methodOverride": True}})
        await page.send({"type": "check", "id": 1, "params": {}})
        return await page.send(
            {"type": "report", "id": 2, "engagementAttributes": [impression], "pageId": None}
        )

    assert run(scenario())["result"]["delivered"] is True
    request = page.transport.requests[1]
    assert (request.method, request.headers["X-HTTP-Method-Override"]) == ("POST", "PUT")


def test_an_available_answer_is_offered_for_reuse_under_the_pages_key():
    """After an Available check carrying a reuseKey, the worker posts {type: "reusable", key,
    expiresAt (ms), outcome}; a NotAvailable answer, or reuse turned off, posts nothing."""
    page = Page(ScriptedTransport(available(), not_available(), available()))

    async def scenario() -> None:
        await page.send({"type": "init", "config": {**CONFIG, "retry": "none"}})
        await page.send({"type": "check", "id": 1, "params": {}, "reuseKey": "k1"})
        await page.send({"type": "check", "id": 2, "params": {}, "reuseKey": "k2"})
        await page.send({"type": "init", "config": {**CONFIG, "retry": "none",
                                                    "reuseAnswers": False}})
        await page.send({"type": "check", "id": 3, "params": {}, "reuseKey": "k3"})

    run(scenario())
    (offer,) = page.posted_of("reusable")
    assert offer["key"] == "k1"
    assert offer["outcome"]["status"] == "Available"
    valid = offer["outcome"]["engagementDetails"]["validForSeconds"]
    assert offer["expiresAt"] == round((EPOCH + valid - 60) * 1000)
