"""The CPython transport: one HTTP exchange with the stdlib only (``urllib.request``).

The CPython wing hands it to the driver: ``engage_web.ChatApi`` outside the browser (imported
at the first exchange) and the command line. It follows the transport contract of
``engage_web.core.transport``: every HTTP status, 4xx and 5xx included, comes back as an
``HttpResponse``; failures without an HTTP answer raise ``NetworkError`` (refused, reset, DNS,
a connection closed mid-answer, an unreadable body) or ``AttemptTimeout`` (no complete answer
within ``timeout`` seconds)::

    import asyncio
    from engage_web.core.transport import HttpRequest
    from engage_web.cpython.stdlib_transport import stdlib_transport

    response = asyncio.run(stdlib_transport(
        HttpRequest("GET", "http://127.0.0.1:8765/api/account/demo/service/msdkgw/baseURI.json"
                    "?version=1.0"),
        timeout=5.0,
    ))
    response.status, response.header("content-type")

The blocking ``urllib`` call runs in a worker thread (``asyncio.to_thread``). Cancelling the
awaiting task returns control at once; the thread itself ends on its own by the socket timeout.
Redirects are not followed: a 301, 302, 303, 307 or 308 raises ``RedirectRefused`` (an API
answer never redirects; following one would send the visitor's data to an address nobody
configured, and a 307 would re-post the body). Proxies from the
environment (``http_proxy``/``no_proxy``) are honoured, as usual for urllib.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import urllib.error
import urllib.request
from email.message import Message

from ..core.errors import AttemptTimeout, NetworkError, RedirectRefused, TransportError
from ..core.transport import HttpRequest, HttpResponse

__all__ = ["MAX_RESPONSE_BYTES", "stdlib_transport"]

#: Answers larger than this are refused (NetworkError) rather than buffered without end.
MAX_RESPONSE_BYTES = 8 * 1024 * 1024
#: The statuses that redirect (never followed).
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        return None  # urllib then raises HTTPError carrying the 3xx answer


_OPENER = urllib.request.build_opener(_NoRedirect())


def _headers(message: Message) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in message.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out


def _text(raw: bytes, message: Message) -> str:
    charset = message.get_content_charset() or "utf-8"
    try:
        return raw.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return raw.decode("utf-8", errors="replace")


def _read(stream: http.client.HTTPResponse | urllib.error.HTTPError, url: str) -> bytes:
    """The whole body; IncompleteRead when the connection closes before the declared length."""
    response = stream if isinstance(stream, http.client.HTTPResponse) else stream.fp
    declared = getattr(response, "length", None)  # bytes still expected (Content-Length)
    if declared is not None:
        if declared > MAX_RESPONSE_BYTES:
            raise NetworkError(f"the answer from {url} is larger than {MAX_RESPONSE_BYTES} bytes")
        return stream.read()  # raises IncompleteRead if short
    raw = stream.read(MAX_RESPONSE_BYTES + 1)  # chunked: raises IncompleteRead if cut
    if len(raw) > MAX_RESPONSE_BYTES:
        raise NetworkError(f"the answer from {url} is larger than {MAX_RESPONSE_BYTES} bytes")
    return raw


def _is_timeout(exc: BaseException | str | None) -> bool:
    return isinstance(exc, TimeoutError | socket.timeout)


def _exchange(request: HttpRequest, timeout: float) -> HttpResponse:
    """The blocking exchange (run in a thread)."""
    data = request.body.encode("utf-8") if request.body is not None else None
    try:
        req = urllib.request.Request(
            request.url, data=data, headers=dict(request.headers), method=request.method
        )
    except ValueError as exc:
        raise NetworkError(f"cannot send to {request.url!r}: {exc}") from None
    try:
        try:
            with _OPENER.open(req, timeout=timeout) as response:
                raw = _read(response, request.url)
                return HttpResponse(
                    response.status, _headers(response.headers), _text(raw, response.headers)
                )
        except urllib.error.HTTPError as exc:  # a status answer: returned, not raised
            if exc.code in REDIRECTS:
                exc.close()
                raise RedirectRefused(request.url, exc.code, exc.headers.get("location")) from None
            with exc:
                raw = _read(exc, request.url)
                return HttpResponse(exc.code, _headers(exc.headers), _text(raw, exc.headers))
    except TransportError:
        raise
    except urllib.error.URLError as exc:
        if _is_timeout(exc.reason):
            raise AttemptTimeout(timeout) from None
        raise NetworkError(f"cannot reach {request.url}: {exc.reason}") from None
    except TimeoutError:
        raise AttemptTimeout(timeout) from None
    except http.client.IncompleteRead as exc:
        raise NetworkError(
            f"the connection to {request.url} closed mid-answer "
            f"({len(exc.partial)} bytes received, more expected)"
        ) from None
    except (http.client.HTTPException, OSError) as exc:
        raise NetworkError(
            f"exchange with {request.url} failed: {exc or type(exc).__name__}"
        ) from None
    except ValueError as exc:
        raise NetworkError(f"cannot send to {request.url!r}: {exc}") from None


async def stdlib_transport(request: HttpRequest, timeout: float) -> HttpResponse:  # noqa: ASYNC109
    """Send ``request`` once and return the answer; see the module docstring.

    Example::

        response = await stdlib_transport(HttpRequest("GET", "http://127.0.0.1:8765/x"), 5.0)
    """
    try:
        return await asyncio.wait_for(asyncio.to_thread(_exchange, request, timeout), timeout)
    except TimeoutError:
        raise AttemptTimeout(timeout) from None
