"""engage-web: an engagement eligibility and availability check, in Python, for any page.

The same engine runs in the browser (Pyodide, behind ``window.ChatApi`` or from PyScript) and
in CPython (the CLI, tests, your own scripts)::

    import asyncio
    from engage_web import ChatApi

    async def main():
        async with ChatApi("http://127.0.0.1:8000", "demo") as api:
            outcome = await api.get_engagement({"consumerSections": ["Support", "English"]})
            print(outcome["status"])          # Available / NotAvailable / Error

    asyncio.run(main())

Public names: :class:`ChatApi`, :func:`validate_request`, :class:`RetryPolicy`,
:class:`WatchPolicy`, the session types, and the error family of ``engage_web.core.errors``.
"""

import sys
from typing import Any

from .core.errors import (
    AttemptTimeout,
    ConfigError,
    EngageError,
    FieldError,
    NetworkError,
    RequestError,
    TransportError,
)
from .core.retry import RetryPolicy
from .core.session import MemorySessionStore, Session, SessionStore
from .core.transport import HttpRequest, HttpResponse, Transport
from .core.validation import validate_report, validate_request
from .driver.api import ChatApi as _DriverChatApi
from .driver.clock import AsyncioClock, Clock
from .driver.watch import WatchPolicy

__all__ = [
    "AsyncioClock",
    "AttemptTimeout",
    "ChatApi",
    "Clock",
    "ConfigError",
    "EngageError",
    "FieldError",
    "HttpRequest",
    "HttpResponse",
    "MemorySessionStore",
    "NetworkError",
    "RequestError",
    "RetryPolicy",
    "Session",
    "SessionStore",
    "Transport",
    "TransportError",
    "WatchPolicy",
    "platform_transport",
    "validate_report",
    "validate_request",
]
__version__ = "0.1.0"


def platform_transport() -> Transport:
    """The transport of the platform this runs on: ``pyfetch`` in Pyodide, urllib in CPython.

    Each wing is imported only here, and only when asked, so the core and the driver import
    neither::

        >>> platform_transport().__module__
        'engage_web.cpython.stdlib_transport'
    """
    if sys.platform == "emscripten":
        from .browser.pyfetch_transport import pyfetch_transport

        return pyfetch_transport
    from .cpython.stdlib_transport import stdlib_transport

    return stdlib_transport


async def _platform_exchange(request: HttpRequest, timeout: float) -> HttpResponse:  # noqa: ASYNC109
    return await platform_transport()(request, timeout)


class ChatApi(_DriverChatApi):
    """``engage_web.driver.api.ChatApi`` with the platform's transport unless one is given.

    Everything else is the driver's (see ``engage_web.driver.api``)::

        >>> ChatApi(None, "demo").domain_api
        'https://api.liveperson.net'
    """

    def __init__(self, *args: Any, transport: Transport | None = None, **kwargs: Any) -> None:
        super().__init__(
            *args,
            transport=_platform_exchange if transport is None else transport,
            **kwargs,
        )
