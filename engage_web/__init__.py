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
:class:`WatchPolicy`, the session types, and the error family of ``engage_web.errors``.
"""

from .api import ChatApi
from .clock import AsyncioClock, Clock
from .errors import (
    AttemptTimeout,
    ConfigError,
    EngageError,
    FieldError,
    NetworkError,
    RequestError,
    TransportError,
)
from .retry import RetryPolicy
from .session import MemorySessionStore, Session, SessionStore
from .transport import HttpRequest, HttpResponse, Transport
from .validation import validate_report, validate_request
from .watch import WatchPolicy

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
    "validate_report",
    "validate_request",
]
__version__ = "0.1.0"
