"""The engine's transport in the browser: one HTTP exchange over ``pyodide.http.pyfetch``.

The browser's composition roots hand it to the engine (the worker entry, ``browser/worker.py``;
``engage_web.ChatApi`` in Pyodide). It honours the contract of ``engage_web.core.transport``:
send once, return any HTTP answer (4xx and 5xx included) as an :class:`HttpResponse`, raise
``AttemptTimeout`` or ``NetworkError`` otherwise, and abort the request when the awaiting task is
cancelled::

    from engage_web.browser.pyfetch_transport import pyfetch_transport
    from engage_web.core.transport import HttpRequest

    response = await pyfetch_transport(HttpRequest("GET", "http://127.0.0.1:8000/"), 5.0)
    response.status, response.header("content-type")

Every JS-level failure reaches Python as one exception type (``pyodide.http.AbortError``, with
the browser's message, e.g. "Failed to fetch"), so the failure is classified by context: if our
per-attempt ``AbortSignal.timeout`` has fired, it was our timeout (``AttemptTimeout``); otherwise
the network failed (``NetworkError`` with the browser's message), whether while connecting or
while reading the body. ``asyncio.CancelledError`` is never swallowed: pyfetch aborts the fetch
and the cancellation propagates. Redirects are not followed (``redirect: "manual"``): the
browser hides where they lead, and the transport raises ``RedirectRefused``.

The JS imports are guarded, so this module imports under CPython too; calling the transport
there raises a clear ``RuntimeError``. Tests drive the whole flow under CPython with the
``fetcher`` and ``timeout_signal`` seams.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from engage_web.core.errors import AttemptTimeout, NetworkError, RedirectRefused, TransportError
from engage_web.core.transport import HttpRequest, HttpResponse

__all__ = ["classify_failure", "pyfetch_transport"]

IN_BROWSER = sys.platform == "emscripten"

if IN_BROWSER:  # pragma: no cover - only in Pyodide
    from js import AbortSignal
    from pyodide.ffi import JsException
    from pyodide.http import pyfetch as _pyfetch

    _JS_FAILURES: tuple[type[BaseException], ...] = (OSError, JsException)
else:
    AbortSignal = None
    _pyfetch = None
    _JS_FAILURES = (OSError,)


#: Failures while the body is read: the JS ones, and Pyodide 314's own AttributeError (see below).
_BODY_FAILURES = (*_JS_FAILURES, AttributeError)


class _Signal(Protocol):
    """The part of a JS ``AbortSignal`` this module reads."""

    @property
    def aborted(self) -> bool: ...


class _Response(Protocol):
    """The part of ``pyodide.http.FetchResponse`` this module reads."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def type(self) -> str: ...

    def text(self) -> Awaitable[str]: ...


Fetcher = Callable[..., Awaitable[_Response]]


def classify_failure(error: BaseException, *, timed_out: bool, timeout: float) -> TransportError:
    """The transport error a failed fetch means: our timeout fired, or the network failed.

    ``timed_out`` is whether the per-attempt signal had fired when the failure surfaced::

        >>> classify_failure(OSError("signal timed out"), timed_out=True, timeout=2).reason
        'timeout'
        >>> str(classify_failure(OSError("Failed to fetch"), timed_out=False, timeout=2))
        'Failed to fetch'
    """
    if timed_out:
        return AttemptTimeout(timeout)
    message = str(error) or type(error).__name__
    return NetworkError(message)


def _browser_timeout_signal(seconds: float) -> _Signal:
    return AbortSignal.timeout(max(1, round(seconds * 1000)))


async def pyfetch_transport(
    request: HttpRequest,
    timeout: float,  # noqa: ASYNC109 - the transport contract: the attempt's own timeout
    *,
    fetcher: Fetcher | None = None,
    timeout_signal: Callable[[float], Any] | None = None,
) -> HttpResponse:
    """Send ``request`` once with ``pyfetch``, giving up after ``timeout`` seconds.

    Returns the answer whatever its status; raises ``AttemptTimeout`` when our timeout fired,
    ``NetworkError`` (with the browser's message) for any other failure, also while reading the
    body. Cancellation aborts the fetch and propagates. ``fetcher`` (a pyfetch-compatible
    coroutine function) and ``timeout_signal`` (seconds -> signal with ``.aborted``) are seams for
    tests; in Pyodide they default to ``pyfetch`` and ``AbortSignal.timeout``.

    Example::

        response = await pyfetch_transport(
            HttpRequest("POST", url, {"content-type": "application/json"}, "{}"), 8.0
        )
    """
    fetch = fetcher or _pyfetch
    make_signal = timeout_signal or (_browser_timeout_signal if IN_BROWSER else None)
    if fetch is None or make_signal is None:
        raise RuntimeError(
            "pyfetch_transport needs Pyodide (pyodide.http.pyfetch); under CPython use "
            "engage_web.cpython.stdlib_transport or pass transport= to ChatApi"
        )
    signal = make_signal(timeout)
    options: dict[str, Any] = {
        "method": request.method,
        "headers": dict(request.headers),
        "redirect": "manual",  # never followed: see RedirectRefused
    }
    if request.body is not None:
        options["body"] = request.body
    try:
        response = await fetch(request.url, signal=signal, **options)
        redirected = getattr(response, "type", None) == "opaqueredirect"
        status = int(response.status)
        headers = {str(k).lower(): str(v) for k, v in dict(response.headers).items()}
    except _JS_FAILURES as error:
        raise classify_failure(error, timed_out=bool(signal.aborted), timeout=timeout) from None
    if redirected:
        raise RedirectRefused(request.url)
    try:
        body = await response.text()
    except _BODY_FAILURES as error:
        if isinstance(error, AttributeError):
            # Pyodide 314's FetchResponse.text() turns a failed read into AbortError(signal
            # .reason), which is None while our signal has not fired: AttributeError on .message.
            error = OSError("the connection closed before the whole answer arrived")
        raise classify_failure(error, timed_out=bool(signal.aborted), timeout=timeout) from None
    return HttpResponse(status, headers, body)
