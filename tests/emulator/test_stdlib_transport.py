"""The CPython transport returns every HTTP answer and turns failures into transport errors."""

from __future__ import annotations

import asyncio
import json
import socket

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

from engage_web.core.errors import AttemptTimeout, NetworkError, RedirectRefused
from engage_web.core.transport import HttpRequest
from engage_web.cpython.stdlib_transport import stdlib_transport
from tests.emulator.conftest import VISITORS, query, session_path
from tools.devserver import ServerThread

JSON = {"Content-Type": "application/json"}


def send(request: HttpRequest, timeout: float = 5.0):
    return asyncio.run(stdlib_transport(request, timeout))


def test_an_answer_comes_back_whole(live_server: str):
    """A 200 comes back with its status, lower-cased headers and the body text."""
    body = '{"appType": "EXTERNAL"}'
    answer = send(HttpRequest("POST", f"{live_server}{VISITORS}{query()}", JSON, body))
    assert answer.status == 200
    assert answer.header("Content-Type") == "application/json"
    assert json.loads(answer.body)["status"] == "NotAvailable"


@pytest.mark.parametrize(("status", "retry_after"), [(400, None), (404, None), (503, "3")])
def test_error_statuses_are_returned_not_raised(live_server: str, status, retry_after):
    """4xx and 5xx answers are HttpResponses with their JSON body and headers."""
    if status == 503:
        httpx.post(f"{live_server}/_emulator/faults", json={"status": 503, "retryAfter": 3})
        url = f"{live_server}{VISITORS}{query()}"
    elif status == 404:
        url = f"{live_server}{session_path(account='nobody')}{query()}"
    else:
        url = f"{live_server}{VISITORS}{query(v='9')}"
    answer = send(HttpRequest("POST", url, JSON, '{"appType": "EXTERNAL"}'))
    assert answer.status == status
    assert answer.header("retry-after") == retry_after
    assert json.loads(answer.body)["message"]


def test_connection_refused_is_a_network_error():
    """Nobody listening: NetworkError naming the URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x"
    with pytest.raises(NetworkError, match=f"127.0.0.1:{port}"):
        send(HttpRequest("GET", url))


def test_a_slow_answer_is_an_attempt_timeout(live_server: str):
    """No answer within the timeout: AttemptTimeout carrying that timeout."""
    httpx.post(f"{live_server}/_emulator/faults", json={"delayMs": 700})
    with pytest.raises(AttemptTimeout) as caught:
        send(HttpRequest("POST", f"{live_server}{VISITORS}{query()}", JSON, "{}"), timeout=0.2)
    assert caught.value.timeout == 0.2


def test_cancelling_returns_at_once(live_server: str):
    """Cancelling the awaiting task ends the exchange for the caller without waiting for it."""
    httpx.post(f"{live_server}/_emulator/faults", json={"delayMs": 700})

    async def scenario():
        task = asyncio.ensure_future(
            stdlib_transport(
                HttpRequest("POST", f"{live_server}{VISITORS}{query()}", JSON, "{}"), 5.0
            )
        )
        await asyncio.sleep(0)  # let the exchange start
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_refused_not_followed(status):
    """A redirect raises RedirectRefused naming the status and the target, and the target is
    never asked (an API never redirects; a 307 would re-post the visitor's data elsewhere)."""
    hits = []

    async def moved(request):
        return RedirectResponse("/elsewhere", status_code=status)

    async def elsewhere(request):
        hits.append(request.method)
        return JSONResponse({})

    app = Starlette(routes=[Route("/moved", moved, methods=["POST"]),
                            Route("/elsewhere", elsewhere, methods=["GET", "POST"])])
    with ServerThread(app) as base, pytest.raises(RedirectRefused) as caught:
        send(HttpRequest("POST", f"{base}/moved", JSON, "{}"))
    assert (caught.value.status, caught.value.location) == (status, "/elsewhere")
    assert caught.value.final
    assert hits == []


def test_a_redirect_ends_a_check_at_once_with_code_redirect(live_server: str):
    """Through ChatApi, a redirecting endpoint is one Error outcome (code "redirect"), never
    retried: waiting does not change a configuration. ``engage_web.ChatApi`` picks the standard
    library's transport by itself in CPython."""
    from engage_web import ChatApi

    async def moved(request):
        return RedirectResponse(f"{live_server}/api/x", status_code=302)

    app = Starlette(routes=[Route("/{path:path}", moved, methods=["POST"])])
    with ServerThread(app) as base:
        outcome = asyncio.run(ChatApi(base, "demo").get_engagement())
    assert outcome["error"]["code"] == "redirect"
    assert outcome["error"]["attempts"] == 1
    assert "302" in outcome["error"]["message"]


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/x"])
def test_unusable_urls_are_network_errors(url):
    """A URL urllib cannot use is a NetworkError, not a ValueError escaping the transport."""
    with pytest.raises(NetworkError):
        send(HttpRequest("GET", url))
