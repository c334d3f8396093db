"""pyfetch_transport under CPython: the request it builds and how it classifies failures.

The browser itself is exercised end to end in test_embed.py; here a fake pyfetch (the
``fetcher`` seam) and a fake timeout signal stand in for Pyodide, so every branch runs fast.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from engage_web.browser.pyfetch_transport import classify_failure, pyfetch_transport
from engage_web.core.errors import AttemptTimeout, NetworkError, RedirectRefused
from engage_web.core.transport import HttpRequest, HttpResponse

REQUEST = HttpRequest(
    "POST",
    "http://127.0.0.1:9/api/account/demo/app/engagement/visitors?v=1.0",
    {"Content-Type": "application/json"},
    '{"appType": "EXTERNAL"}',
)


@dataclass
class FakeSignal:
    """Stands in for ``AbortSignal.timeout(ms)``: ``aborted`` turns true when it 'fires'."""

    seconds: float
    aborted: bool = False


@dataclass
class FakeResponse:
    """Stands in for ``pyodide.http.FetchResponse``."""

    status: int
    headers: dict[str, str]
    body: str = ""
    body_error: BaseException | None = None
    type: str = "basic"

    async def text(self) -> str:
        if self.body_error is not None:
            raise self.body_error
        return self.body


@dataclass
class FakeFetch:
    """A pyfetch-compatible coroutine function that records its calls and plays a script."""

    response: FakeResponse | None = None
    error: BaseException | None = None
    fire_timeout: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, url: str, **options: Any) -> FakeResponse:
        self.calls.append({"url": url, **options})
        if self.fire_timeout:
            options["signal"].aborted = True
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


def run(fetch: FakeFetch, request: HttpRequest = REQUEST, timeout: float = 2.5) -> HttpResponse:
    return asyncio.run(
        pyfetch_transport(request, timeout, fetcher=fetch, timeout_signal=FakeSignal)
    )


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (201, {"content-type": "application/json"}, '{"status": "NotAvailable"}'),
        (400, {"Content-Type": "application/json"}, '{"message": "bad", "field": "appType"}'),
        (503, {"Retry-After": "1"}, "busy"),
        (200, {}, ""),
    ],
)
def test_any_http_answer_is_returned_with_lower_case_headers(status, headers, body):
    """Every HTTP answer, 4xx and 5xx included, comes back as is, header names lower-cased."""
    response = run(FakeFetch(FakeResponse(status, headers, body)))
    assert response == HttpResponse(status, {k.lower(): v for k, v in headers.items()}, body)


def test_the_request_is_sent_once_with_method_headers_body_and_a_timeout_signal():
    """The fetch gets the method, headers, body and a signal timed to the attempt timeout."""
    fetch = FakeFetch(FakeResponse(200, {}, "{}"))
    run(fetch, timeout=2.5)
    assert len(fetch.calls) == 1
    call = fetch.calls[0]
    assert call["url"] == REQUEST.url
    assert (call["method"], call["headers"], call["body"]) == (
        "POST",
        {"Content-Type": "application/json"},
        REQUEST.body,
    )
    assert call["signal"].seconds == 2.5
    assert call["redirect"] == "manual"


def test_an_opaque_redirect_is_refused_not_followed():
    """fetch with redirect "manual" hands back an opaque redirect (status 0, type
    "opaqueredirect"): the transport refuses it as final, with no body read."""
    fetch = FakeFetch(FakeResponse(0, {}, body_error=AssertionError("never read"),
                                   type="opaqueredirect"))
    with pytest.raises(RedirectRefused) as caught:
        run(fetch)
    assert caught.value.final
    assert caught.value.reason == "redirect"


def test_a_request_without_body_sends_no_body_option():
    """A GET (no body) passes no ``body`` option to fetch (browsers refuse GET bodies)."""
    fetch = FakeFetch(FakeResponse(200, {}, ""))
    run(fetch, HttpRequest("GET", "http://127.0.0.1:9/x"))
    assert "body" not in fetch.calls[0]


@pytest.mark.parametrize(
    ("fetch", "expected", "message"),
    [
        (FakeFetch(error=OSError("Failed to fetch")), NetworkError, "Failed to fetch"),
        (
            FakeFetch(error=OSError("signal timed out"), fire_timeout=True),
            AttemptTimeout,
            "no answer within 2.5 s",
        ),
        (
            FakeFetch(FakeResponse(200, {}, body_error=OSError("network error"))),
            NetworkError,
            "network error",
        ),
        (
            FakeFetch(
                FakeResponse(200, {}, body_error=OSError("signal timed out")), fire_timeout=True
            ),
            AttemptTimeout,
            "no answer within 2.5 s",
        ),
        (
            FakeFetch(
                FakeResponse(200, {}, body_error=AttributeError("'NoneType' object has no "
                                                                "attribute 'message'"))
            ),
            NetworkError,
            "the connection closed before the whole answer arrived",
        ),
    ],
    ids=[
        "connect-fails",
        "our-timeout",
        "body-read-fails",
        "timeout-while-reading-body",
        "body-read-fails-pyodide-314-bug",
    ],
)
def test_failures_are_classified_by_whether_our_timeout_fired(fetch, expected, message):
    """A failure is a timeout when our signal fired, else a NetworkError with the browser's text."""
    with pytest.raises(expected) as caught:
        run(fetch)
    assert str(caught.value) == message


def test_cancellation_propagates_and_is_not_reported_as_a_network_failure():
    """Cancelling the awaiting task raises CancelledError (pyfetch aborts the fetch)."""
    started = asyncio.Event()
    seen: list[str] = []

    async def hanging_fetch(url: str, **options: Any) -> FakeResponse:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        raise AssertionError("unreachable")

    async def scenario() -> None:
        task = asyncio.create_task(
            pyfetch_transport(REQUEST, 5, fetcher=hanging_fetch, timeout_signal=FakeSignal)
        )
        await started.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert seen == ["cancelled"]


def test_under_cpython_without_a_fetcher_the_error_says_what_to_use():
    """Outside Pyodide the transport refuses clearly instead of failing obscurely."""
    with pytest.raises(RuntimeError, match="needs Pyodide"):
        asyncio.run(pyfetch_transport(REQUEST, 1))


@pytest.mark.parametrize(("timed_out", "expected_reason"), [(True, "timeout"), (False, "network")])
def test_classify_failure_reason(timed_out, expected_reason):
    """classify_failure gives the outcome code the engine reports: timeout or network."""
    assert classify_failure(OSError("x"), timed_out=timed_out, timeout=1).reason == expected_reason
