"""Answers reused within their validity: a visit, not a page view, in headless Chromium.

A page view's first call for a request that an earlier page view of the same visit (same tab,
same session) got an Available answer for, still valid, resolves at once from page storage with
``fromCache: true``; everything else asks the endpoint. The emulator's request log says which
calls reached it. Waiting is on promises and page conditions only.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from engage_web.cpython.emulator.seed import seed_request
from tests.browser.conftest import Emulator, Probe, embed_page

pytestmark = pytest.mark.browser

SEED_PARAMS = seed_request()

# Asks at once, as a page does when it loads, and notes whether the runtime was up by then.
ASK_ON_LOAD = """<script>
  window.__events = [];
  ChatApi.bind("onEngagement", function (outcome) { window.__events.push(outcome); });
  window.__first = ChatApi.getEngagement(%s).then(function (outcome) {
    return {outcome: outcome, readyWhenAnswered: ChatApi.ready};
  });
</script>"""


def page_html(attrs: str = "", params: Any = SEED_PARAMS) -> str:
    return embed_page(attrs=attrs, body=ASK_ON_LOAD % json.dumps(params))


def visit(probe: Probe, page: Any, html: str, name: str) -> dict[str, Any]:
    """Go to another page of the site in the same tab; return its first call's result."""
    url = f"{probe.base_url}/test/{name}.html"
    page.context.route(url, lambda route: route.fulfill(content_type="text/html", body=html))
    page.goto(url)
    return page.evaluate("window.__first")


def checks(emulator: Emulator) -> int:
    return len([r for r in emulator.requests("/visitors") if r.get("route") != "update"])


def next_view_asks(probe: Probe, emulator: Emulator, page: Any, attrs: str) -> dict[str, Any]:
    """The next page view's first outcome, after checking that it was not taken from storage:
    the endpoint was asked exactly once more."""
    asked = checks(emulator)
    second = visit(probe, page, page_html(attrs), "second")
    assert "fromCache" not in second["outcome"]
    assert checks(emulator) == asked + 1
    return second["outcome"]


def test_a_later_page_view_is_answered_at_once_from_the_visits_answer(
    probe: Probe, emulator: Emulator
):
    """Page two's first call reuses page one's Available answer before its worker is up; the
    worker still starts, and a second call on page two asks the endpoint again."""
    page = probe.open(page_html())
    first = page.evaluate("window.__first")["outcome"]
    assert first["status"] == "Available"
    assert "fromCache" not in first
    asked = checks(emulator)

    second = visit(probe, page, page_html(), "second")

    reused = second["outcome"]
    assert reused["fromCache"] is True
    assert 0 <= reused["ageMs"] < 60_000
    assert second["readyWhenAnswered"] is False  # answered before the runtime was up
    assert {k: v for k, v in reused.items() if k not in ("fromCache", "ageMs")} == first
    assert page.evaluate("window.__events") == [reused]
    assert checks(emulator) == asked  # nothing reached the endpoint

    page.wait_for_function("ChatApi.ready")  # the worker started all the same
    again = page.evaluate("(p) => ChatApi.getEngagement(p)", SEED_PARAMS)
    assert again["status"] == "Available"
    assert "fromCache" not in again
    assert (again["visitorId"], again["sessionId"]) == (first["visitorId"], first["sessionId"])
    assert checks(emulator) == asked + 1


def test_another_request_or_another_session_asks_the_endpoint(probe: Probe, emulator: Emulator):
    """The answer belongs to its request and its session: other params, or a new browsing
    session (local storage carried over, session storage not), ask again."""
    context = probe.new_context()
    page = probe.open(page_html(), context=context)
    first = page.evaluate("window.__first")["outcome"]
    assert first["status"] == "Available"

    other = visit(probe, page, page_html(params={"consumerSections": ["Sales"]}), "other")
    assert "fromCache" not in other["outcome"]
    asked = checks(emulator)

    later = probe.new_context(storage_state=context.storage_state())
    page2 = probe.open(page_html(), context=later)
    answer = page2.evaluate("window.__first")["outcome"]
    assert "fromCache" not in answer
    assert answer["visitorId"] == first["visitorId"]  # the same visitor, a new session
    assert answer["sessionId"] != first["sessionId"]
    assert checks(emulator) > asked


def test_an_answer_past_its_allowed_age_is_not_reused(probe: Probe, emulator: Emulator):
    """With reuseMaxAgeMs 1000, an answer stored more than a second ago asks the endpoint."""
    attrs = 'data-reuse-max-age-ms="1000"'
    page = probe.open(page_html(attrs))
    assert page.evaluate("window.__first")["outcome"]["status"] == "Available"
    expires = page.evaluate(
        """() => Object.keys(sessionStorage)
              .filter((k) => k.startsWith("engage-web:answer:"))
              .map((k) => JSON.parse(sessionStorage.getItem(k)))"""
    )
    assert len(expires) == 1
    record = expires[0]
    assert 0 < record["expiresAt"] - record["storedAt"] <= 1000
    page.wait_for_function("(at) => Date.now() > at", arg=record["expiresAt"])

    assert next_view_asks(probe, emulator, page, attrs)["status"] == "Available"


def test_not_available_is_never_reused(probe: Probe, emulator: Emulator):
    """A NotAvailable answer (a new session's first, with no rechecks) is asked again later."""
    attrs = 'data-retry-preset="none"'
    page = probe.open(page_html(attrs))
    assert page.evaluate("window.__first")["outcome"]["status"] == "NotAvailable"

    second = next_view_asks(probe, emulator, page, attrs)

    assert second["status"] == "Available"  # the session's next answer


def test_reuse_turned_off_asks_the_endpoint_and_stores_nothing(probe: Probe, emulator: Emulator):
    """data-reuse-answers="false": every page view asks; no answer is kept in the page."""
    attrs = 'data-reuse-answers="false"'
    page = probe.open(page_html(attrs))
    assert page.evaluate("window.__first")["outcome"]["status"] == "Available"

    next_view_asks(probe, emulator, page, attrs)
    stored = page.evaluate(
        "() => Object.keys(sessionStorage).filter((k) => k.startsWith('engage-web:answer:'))"
    )
    assert stored == []


def test_a_bad_reuse_option_is_an_error_naming_it(probe: Probe, emulator: Emulator):
    """reuseMaxAgeMs that is not a number ends the calls with an Error naming the option."""
    probe.allow(r"reuseMaxAgeMs")
    page = probe.open(embed_page(endpoint=None, account=None))
    outcome = page.evaluate(
        """() => { ChatApi.init({endpoint: "/", accountId: "demo", reuseMaxAgeMs: "soon"});
                   return ChatApi.getEngagement({}); }"""
    )
    assert outcome["status"] == "Error"
    assert outcome["error"]["field"] == "reuseMaxAgeMs"
    assert "milliseconds" in outcome["error"]["message"]
    assert checks(emulator) == 0
