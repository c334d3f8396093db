"""The fault matrix, end to end: the embed in Chromium against the emulator's fault injection.

For each fault (per-attempt timeout, dropped connection, 500, 502, 503 with Retry-After, 429,
malformed JSON, an HTML error page with status 200, a wrong content type, an answer slower than
the overall deadline, the endpoint unreachable and then back) the page gets exactly one outcome
per call, classified as the contract says, after the retries the policy allows, with no unhandled
rejection and no console error beyond the browser's own network log line; and once the fault
clears the next call gets a real answer again.

One page is booted for the whole module (``tests/browser/hardening.py``) and configured with a
fast policy: 2 retries (3 attempts), 50-100 ms backoff, 1 s per-attempt timeout, no NotAvailable
re-checks, so the whole matrix runs in well under a minute once Python is up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import embed_page, write_artifact
from tests.browser.hardening import RECORD_EVENTS, OutageServer, SharedPage

pytestmark = pytest.mark.browser

FAST = {
    "retries": 2,
    "backoffInitialMs": 50,
    "backoffMaxMs": 100,
    "attemptTimeoutMs": 1000,
    "deadlineMs": 20_000,
    "notAvailableRechecks": 0,
}
ATTEMPTS = 1 + FAST["retries"]
# What the browser itself logs for a failed or non-2xx fetch (not engage-web's doing).
NETWORK_LOG = r"Failed to load resource|net::ERR_|Failed to fetch"
RESULTS: list[dict[str, Any]] = []


@pytest.fixture(scope="module")
def shared(browser: Any, server: str) -> Iterator[SharedPage]:
    page = SharedPage.open(browser, server, embed_page(body=RECORD_EVENTS))
    page.begin()
    page.init({"retry": FAST})
    try:
        yield page
    finally:
        page.close()
        write_artifact("fault-matrix.json", RESULTS)


def _warm(shared: SharedPage) -> None:
    """Open a session and get past its warm-up, so a clean check answers Available."""
    first = shared.check()
    if first["status"] != "Available":
        assert shared.check()["status"] == "Available"


# fault id, fault body (count added), outcome code, onRetry reasons, allowed console pattern
FAULTS: list[tuple[str, dict[str, Any], Any, str, str]] = [
    ("attempt-timeout", {"delayMs": 3000}, "timeout", "timeout", r"$^"),
    ("dropped-connection", {"mode": "drop"}, "network", "network", NETWORK_LOG),
    ("http-500", {"status": 500}, 500, "http-500", r"status of 500"),
    ("http-502", {"status": 502}, 502, "http-502", r"status of 502"),
    ("http-503-retry-after", {"status": 503, "retryAfter": 1}, 503, "http-503", r"status of 503"),
    ("http-429", {"status": 429, "retryAfter": 1}, 429, "http-429", r"status of 429"),
    ("malformed-json", {"mode": "malformed"}, "malformed", "malformed", r"$^"),
    ("html-error-page-200", {"mode": "html"}, "malformed", "malformed", r"$^"),
]


@pytest.mark.parametrize(
    ("fault", "code", "reason", "allowed"),
    [pytest.param(*f[1:], id=f[0]) for f in FAULTS],
)
def test_a_persistent_fault_gives_one_classified_error_after_the_policy_retries(
    shared: SharedPage, fault: dict[str, Any], code: Any, reason: str, allowed: str
):
    """A fault hitting every attempt ends in exactly one Error outcome with the right code,
    after 1 + retries attempts, with onRetry before each retry; the next clean call recovers."""
    shared.begin(allowed, NETWORK_LOG)
    _warm(shared)
    shared.begin(allowed, NETWORK_LOG, reset=False)
    shared.emulator.fault(count=ATTEMPTS, **fault)

    outcome = shared.check()

    assert outcome["status"] == "Error"
    assert outcome["error"]["code"] == code
    assert outcome["error"]["attempts"] == ATTEMPTS
    assert shared.events("onEngagement") == [outcome]  # exactly one outcome
    retries = shared.events("onRetry")
    assert [r["reason"] for r in retries] == [reason] * FAST["retries"]
    if "retryAfter" in fault:
        assert [r["delayMs"] for r in retries] == [fault["retryAfter"] * 1000] * FAST["retries"]
    log = shared.requests("/engagement")
    assert len(log) == ATTEMPTS
    assert all(entry.get("fault") for entry in log)
    if fault.get("mode") == "html":
        assert outcome["error"]["httpStatus"] == 200
    assert "Error:" not in outcome["error"]["message"]  # a reason a visitor can read, no repr

    recovered = shared.check()  # the fault has cleared
    assert recovered["status"] == "Available"
    assert shared.events("onEngagement") == [outcome, recovered]
    shared.finish()
    RESULTS.append({"fault": fault, "persistent": outcome["error"], "recovered": "Available"})


@pytest.mark.parametrize(
    ("fault", "code", "reason", "allowed"),
    [pytest.param(*f[1:], id=f[0]) for f in FAULTS],
)
def test_a_transient_fault_is_retried_and_the_same_call_succeeds(
    shared: SharedPage, fault: dict[str, Any], code: Any, reason: str, allowed: str
):
    """A fault on the first attempt only is retried once and the call itself ends Available."""
    shared.begin(allowed, NETWORK_LOG)
    _warm(shared)
    shared.begin(allowed, NETWORK_LOG, reset=False)
    shared.emulator.fault(count=1, **fault)

    outcome = shared.check()

    assert outcome["status"] == "Available"
    assert shared.events("onEngagement") == [outcome]
    assert [r["reason"] for r in shared.events("onRetry")] == [reason]
    assert len(shared.requests("/engagement")) == 2
    shared.finish()
    RESULTS.append({"fault": fault, "transient": "Available after 1 retry"})


def test_a_wrong_content_type_on_a_valid_answer_is_tolerated_without_retry(shared: SharedPage):
    """The real answer labelled text/plain is still the contract's object: taken as is, once."""
    shared.begin()
    _warm(shared)
    shared.begin(reset=False)
    shared.emulator.fault(count=1, mode="wrong-type")

    outcome = shared.check()

    assert outcome["status"] == "Available"
    assert shared.events("onEngagement") == [outcome]
    assert shared.events("onRetry") == []
    assert len(shared.requests("/engagement")) == 1
    shared.finish()
    RESULTS.append({"fault": {"mode": "wrong-type"}, "outcome": "Available, no retry"})


def test_an_answer_slower_than_the_overall_deadline_ends_at_the_deadline(shared: SharedPage):
    """With a 1.5 s deadline and a 4 s answer, the call ends with one timeout outcome that names
    the deadline; no retry is scheduled past it; a later call recovers."""
    shared.begin()
    _warm(shared)
    shared.begin(reset=False)
    shared.init({"retry": {**FAST, "attemptTimeoutMs": 10_000, "deadlineMs": 1500}})
    try:
        shared.emulator.fault(count=ATTEMPTS, delayMs=4000)
        outcome = shared.check()
        assert outcome["status"] == "Error"
        assert outcome["error"]["code"] == "timeout"
        assert shared.events("onEngagement") == [outcome]
        assert shared.events("onRetry") == []
        assert len(shared.requests("/engagement")) == 1
        shared.emulator.client.delete("/_emulator/faults").raise_for_status()
        assert shared.check()["status"] == "Available"
    finally:
        shared.init({"retry": FAST})
    shared.finish()
    RESULTS.append({"fault": "slower than the deadline", "outcome": outcome["error"]})


def test_an_unreachable_endpoint_fails_cleanly_and_is_used_again_once_it_is_back(
    shared: SharedPage,
):
    """Connection refused: one network Error after the policy's attempts; when the endpoint comes
    back during a later call's retry wait, that same call ends with a real answer."""
    shared.begin(NETWORK_LOG, r"ERR_CONNECTION_REFUSED")
    outage = OutageServer()
    try:
        shared.init({"endpoint": outage.base_url, "retry": FAST})
        outage.stop()

        down = shared.check()
        assert down["status"] == "Error"
        assert down["error"]["code"] == "network"
        assert down["error"]["attempts"] == ATTEMPTS
        assert shared.events("onEngagement") == [down]
        assert [r["reason"] for r in shared.events("onRetry")] == ["network"] * FAST["retries"]

        # A slow retry schedule, so the endpoint can come back while the call waits.
        slow = {**FAST, "retries": 5, "backoffInitialMs": 800, "backoffMaxMs": 2000}
        shared.init({"retry": slow})
        shared.page.evaluate(
            "window.__events.onRetry = [];"
            "window.__pending = ChatApi.getEngagement({consumerSections: ['Support']});"
            "undefined"  # evaluate would otherwise wait for the returned promise
        )
        shared.page.wait_for_function("window.__events.onRetry.length >= 1")
        outage.start()
        back = shared.page.evaluate("window.__pending")
        assert back["status"] in ("Available", "NotAvailable"), back
        assert shared.events("onEngagement") == [down, back]
        shared.finish()
        RESULTS.append({"fault": "unreachable then back", "down": down["error"], "back": "ok"})
    finally:
        outage.stop()
        shared.init({"endpoint": shared.probe.base_url, "retry": FAST})
