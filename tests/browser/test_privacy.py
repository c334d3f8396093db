"""Privacy: what the visitor gives the page stays between the page and the endpoint.

- Engagement attributes (names, emails, phones) never reach the console unless ``debug`` is on,
  and debug output redacts them.
- A plain ``http://`` endpoint is refused unless it is on this machine (the real service is HTTPS
  only), with a message saying so; nothing is sent.
- Visitor ids travel only in requests to the endpoint's own API URLs, never in any other URL.

The first table runs under CPython (the engine's own check); the rest run in one booted page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from engage_web import ChatApi
from engage_web.core.errors import ConfigError
from tests.browser.conftest import embed_page
from tests.browser.hardening import RECORD_EVENTS, SEED_PARAMS, SharedPage

EMAIL = "ada.sentinel@example.com"
PHONE = "+44 20 7946 0958"
NAME = "Adasentinel"
SECRETS = (EMAIL, PHONE, NAME, "sentinel")
PRIVATE_PARAMS: dict[str, Any] = {
    **SEED_PARAMS,
    "engagementAttributes": [
        {
            "type": "personal",
            "personal": {
                "firstname": NAME,
                "lastname": "Lovelace",
                "contacts": [{"email": EMAIL, "phone": PHONE}],
            },
        },
        {"type": "ctmrinfo", "info": {"userName": NAME, "customerId": "cust-sentinel-1"}},
    ],
}
FAST = {"retries": 1, "backoffInitialMs": 50, "backoffMaxMs": 100, "notAvailableRechecks": 0}


@pytest.mark.parametrize(
    ("endpoint", "accepted"),
    [
        ("https://engage.example.com", True),
        ("http://127.0.0.1:8000", True),
        ("http://127.10.0.1", True),
        ("http://localhost:8765", True),
        ("http://[::1]:8000", True),
        ("http://engage.example.com", False),
        ("http://10.0.0.7:8000", False),
        ("http://localhost.example.com", False),
        ("http://127.0.0.1.nip.io", False),
    ],
)
def test_plain_http_is_refused_unless_the_endpoint_is_loopback(endpoint: str, accepted: bool):
    """http:// is accepted only for loopback hosts; elsewhere the error names https."""
    if accepted:
        assert ChatApi(endpoint, "demo").endpoint == endpoint
        return
    with pytest.raises(ConfigError) as info:
        ChatApi(endpoint, "demo")
    assert info.value.option == "endpoint"
    assert "https://" in info.value.message
    assert "loopback" in info.value.message
    assert repr(endpoint) in info.value.message


@pytest.fixture(scope="module")
def shared(browser: Any, server: str) -> Iterator[SharedPage]:
    page = SharedPage.open(browser, server, embed_page(body=RECORD_EVENTS))
    page.page.on("console", lambda message: CONSOLE.append(_full_text(message)))
    page.begin()
    page.init({"retry": FAST})
    try:
        yield page
    finally:
        page.close()


#: Every console message of the shared page (its worker's included), objects serialised in full.
CONSOLE: list[str] = []


def _full_text(message: Any) -> str:
    """The message's text plus each argument as JSON: a preview like "Object" hides nothing."""
    parts = [f"{message.type}: {message.text}"]
    for arg in message.args:
        try:
            parts.append(json.dumps(arg.json_value(), default=str))
        except Exception as exc:  # an unserialisable argument (a function, a cycle)
            parts.append(f"<{type(exc).__name__}>")
    return " ".join(parts)


def _leaks(lines: list[str]) -> list[str]:
    return [line for line in lines if any(secret in line for secret in SECRETS)]


def _exercise(shared: SharedPage) -> None:
    """Checks, a report, a refused request, a server error and a retry, all with private data."""
    assert shared.check(PRIVATE_PARAMS)["status"] in ("Available", "NotAvailable")
    assert shared.check(PRIVATE_PARAMS)["status"] == "Available"
    bad = {**PRIVATE_PARAMS, "appDetails": {"os": "mac"}}
    assert shared.check(bad)["error"]["code"] == 400
    # A refused attribute: the error message quotes the value it got.
    quoted = {"engagementAttributes": [{"type": "personal", "personal": {"gender": NAME}}]}
    refused = shared.check(quoted)
    assert refused["error"]["code"] == 400
    assert NAME in refused["error"]["message"]  # the page itself is told exactly what was wrong
    shared.emulator.fault(count=1, status=503, retryAfter=0)
    assert shared.check(PRIVATE_PARAMS)["status"] == "Available"
    shared.emulator.fault(count=1, status=400)
    assert shared.check(PRIVATE_PARAMS)["error"]["code"] == 400
    attrs = PRIVATE_PARAMS["engagementAttributes"]
    result = shared.page.evaluate("(attrs) => ChatApi.report(attrs)", attrs)
    assert result["status"] == "Reported"


@pytest.mark.browser
def test_attributes_never_reach_the_console_when_debug_is_off(shared: SharedPage):
    """With debug off, nothing engage-web logs (page or worker) holds a name, email or phone."""
    shared.begin(r"status of (400|503)", r"Failed to load resource")
    shared.init({"debug": False})
    before = len(CONSOLE)

    _exercise(shared)

    lines = CONSOLE[before:]
    assert _leaks(lines) == []
    assert not [line for line in lines if line.startswith("debug: [engage-web] ->")]
    shared.finish()


@pytest.mark.browser
def test_debug_output_shows_the_traffic_with_attributes_redacted(shared: SharedPage):
    """With debug on, every message to and from the worker is logged, attributes redacted."""
    shared.begin(r"status of (400|503)", r"Failed to load resource")
    shared.init({"debug": True})
    before = len(CONSOLE)
    try:
        _exercise(shared)
    finally:
        shared.init({"debug": False})

    lines = CONSOLE[before:]
    debug_lines = [line for line in lines if "[engage-web]" in line and line.startswith("debug")]
    assert any("check" in line for line in debug_lines), lines[:20]
    assert any("redacted" in line for line in debug_lines), debug_lines[:20]
    assert _leaks(lines) == []
    shared.finish()


@pytest.mark.browser
@pytest.mark.parametrize(
    "endpoint", ["http://engage.example.com", "http://10.0.0.7:8000/", "http://[2001:db8::1]"]
)
def test_a_plain_http_remote_endpoint_is_refused_and_nothing_is_sent(
    shared: SharedPage, endpoint: str
):
    """init() with a non-loopback http:// endpoint makes every call an Error (code config,
    field endpoint) that says HTTPS is required; no request leaves the page."""
    shared.begin(r"\[engage-web\]")
    try:
        shared.page.evaluate("(endpoint) => { ChatApi.init({endpoint: endpoint}); }", endpoint)
        outcome = shared.check(PRIVATE_PARAMS)
        assert outcome["status"] == "Error"
        assert outcome["error"]["code"] == "config"
        assert outcome["error"]["field"] == "endpoint"
        assert "https://" in outcome["error"]["message"]
        assert not [p for p in shared.probe.problems if "left the loopback origin" in p]
        assert shared.requests() == []
    finally:
        shared.init({"endpoint": shared.probe.base_url, "retry": FAST})
    assert shared.check(PRIVATE_PARAMS)["status"] in ("Available", "NotAvailable")
    shared.finish()


@pytest.mark.browser
def test_visitor_ids_appear_only_in_the_endpoints_own_api_urls(shared: SharedPage):
    """Every URL the page or its worker requests is checked: the vid and sid occur only in
    requests to {endpoint}/api/account/...; never in the page's own URL or any other request."""
    shared.begin(r"status of 503", r"Failed to load resource")
    urls: list[str] = []
    context = shared.page.context
    listener = lambda request: urls.append(request.url)  # noqa: E731
    context.on("request", listener)
    try:
        first = shared.check(PRIVATE_PARAMS)
        shared.emulator.fault(count=1, status=503, retryAfter=0)
        second = shared.check(PRIVATE_PARAMS)
        shared.page.evaluate("(a) => ChatApi.report(a)", PRIVATE_PARAMS["engagementAttributes"])
        shared.page.reload()
        shared.page.wait_for_function("window.ChatApi && ChatApi.ready")
        shared.init({"retry": FAST})
        third = shared.check(PRIVATE_PARAMS)
    finally:
        context.remove_listener("request", listener)

    ids = {first["visitorId"], first["sessionId"], second["sessionId"], third["sessionId"]}
    api_prefix = shared.probe.base_url + "/api/account/"
    carrying = [u for u in urls if any(i in u for i in ids)]
    assert carrying, "the ids were never sent at all"
    assert [u for u in carrying if not u.startswith(api_prefix)] == []
    assert not any(i in shared.page.url for i in ids)
    assert all(re.search(r"/app/engagement/visitors/[^/?]+\?v=1\.0", u) for u in carrying)
    shared.finish()
