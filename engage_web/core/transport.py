"""The one seam between the engine and the network: a transport does one HTTP exchange.

A transport is any async callable ``transport(request, timeout) -> HttpResponse``. It sends the
request once, never retries, and either returns the server's answer (any status code, 4xx and 5xx
included) or raises ``NetworkError`` / ``AttemptTimeout`` (``engage_web.core.errors``).
Cancelling the awaiting task aborts the exchange. Retrying, classifying and timing are the
engine's job (``engage_web.core.retry``, ``engage_web.core.engine``), so the same engine runs over
``pyfetch`` in the browser, over the stdlib in CPython, and over a fake in tests::

    async def fake(request: HttpRequest, timeout: float) -> HttpResponse:
        return HttpResponse(200, {"content-type": "application/json"}, '{"status": "NotAvailable"}')

    api = ChatApi(endpoint="http://127.0.0.1:8765", account_id="demo", transport=fake)
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["HttpRequest", "HttpResponse", "Transport"]


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """What to send: method, absolute URL (query included), headers and a text body."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """What came back: status code, headers with lower-case names, and the body as text."""

    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of header ``name`` (case-insensitive), or ``default``."""
        return self.headers.get(name.lower(), default)


class Transport(Protocol):
    """One HTTP exchange, at most ``timeout`` seconds long. See the module docstring."""

    def __call__(self, request: HttpRequest, timeout: float) -> Awaitable[HttpResponse]: ...
