"""The ASGI layer around every emulator route: head limits, faults, the request log, no-store,
JSON 500s.

It sits inside CORS (so its answers carry the CORS headers) and outside the routes::

    CORSMiddleware -> Guard -> Starlette's exception handling -> routes

A request with more than ``limits.MAX_HEADER_COUNT`` header lines, or a head over
``limits.MAX_HEAD_BYTES``, answers 431 before anything else. For public requests (paths under
``/api/``, any method but OPTIONS) it names the route (``check``, ``update`` or ``domain``;
:func:`public_route`), takes one injected fault that applies to it (``faults.py``), and logs in
the bounded request log what LivePerson would have received: method, path with query
(``target``, and ``requestLine`` = method and target), the ``X-HTTP-Method-Override`` header
when one was sent, the route and the final status. Every
API and control answer, and any other answer without a cache policy of its own (errors), gets
``Cache-Control: no-store``. An exception from a route (a bug in the emulator) becomes the
documented JSON 500 body instead of a traceback; the traceback goes to the
``engage_web.cpython.emulator`` logger. A client that disconnects before its answer (its own timeout
during a ``delayMs`` fault) is logged as ``disconnected``, not as a bug.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engage_web.core.wire import DOMAIN_PATH, METHOD_OVERRIDE_HEADER, VISITOR_PATH, VISITORS_PATH
from engage_web.cpython.emulator import limits

from .errors import error_body
from .faults import Fault, FaultQueue
from .model import Model

__all__ = [
    "DroppedConnection",
    "Guard",
    "install_drop_log_filter",
    "method_override",
    "public_route",
]

log = logging.getLogger("engage_web.cpython.emulator")

PUBLIC_PREFIX = "/api/"
NO_STORE_PREFIXES = ("/api/", "/_emulator/", "/openapi.json")
_OVERRIDE = METHOD_OVERRIDE_HEADER.lower().encode("latin-1")


def _path_pattern(*templates: str) -> re.Pattern[str]:
    """A regex matching any of the wire's path templates, each ``{name}`` one path segment."""
    alternatives = [
        re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(template)) for template in templates
    ]
    return re.compile("(?:" + "|".join(alternatives) + ")")


_VISITORS = _path_pattern(VISITORS_PATH, VISITOR_PATH)
_DOMAIN = _path_pattern(DOMAIN_PATH)


def method_override(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The ``X-HTTP-Method-Override`` header's value (stripped, upper case), or None.

    >>> method_override([(b"x-http-method-override", b" put ")])
    'PUT'
    """
    for name, value in headers:
        if name.lower() == _OVERRIDE:
            return value.decode("latin-1").strip().upper()[:20]
    return None


def public_route(method: str, path: str, override: str | None) -> str | None:
    """Which public route a request reaches: ``"check"``, ``"update"``, ``"domain"`` or None.

    >>> public_route("POST", "/api/account/demo/app/engagement/visitors", None)
    'check'
    >>> public_route("POST", "/api/account/demo/app/engagement/visitors/v1", "PUT")
    'update'
    >>> public_route("GET", "/api/account/demo/service/msdkgw/baseURI.json", None)
    'domain'
    """
    if _DOMAIN.fullmatch(path):
        return "domain" if method in ("GET", "HEAD") else None
    if _VISITORS.fullmatch(path):
        if method == "PUT" or (method == "POST" and override == "PUT"):
            return "update"
        if method == "POST":
            return "check"
    return None


def _head_problem(scope: Scope) -> str | None:
    """Why a request head is too large (431), or None: more header lines than
    ``MAX_HEADER_COUNT``, or more bytes than ``MAX_HEAD_BYTES`` (the server refuses a head that
    arrives in pieces past that size; one that arrives whole is measured here)."""
    headers = scope.get("headers", [])
    if len(headers) > limits.MAX_HEADER_COUNT:
        return (
            f"the request has {len(headers)} header lines; at most {limits.MAX_HEADER_COUNT} are "
            "accepted"
        )
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string", b"")) + 16
    size += sum(len(name) + len(value) + 4 for name, value in headers)
    if size > limits.MAX_HEAD_BYTES:
        return f"the request head (request line and headers) is over {limits.MAX_HEAD_BYTES} bytes"
    return None


def _target(scope: Scope) -> str:
    """The path with its query as the client sent them, shortened for the log if very long."""
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    query = scope.get("query_string", b"")
    target = (raw + (b"?" + query if query else b"")).decode("latin-1")
    shown = limits.REQUEST_TARGET_SHOWN
    if len(target) > shown:
        return f"{target[:shown]}...({len(target)} characters)"
    return target


class DroppedConnection(Exception):
    """Raised on purpose by a ``drop`` fault after a partial answer, so the server closes the
    connection mid-response; the client sees a network error."""


class _DropFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnection)


def install_drop_log_filter() -> None:
    """Keep uvicorn from logging a traceback for each deliberately dropped connection."""
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _DropFilter) for f in logger.filters):
        logger.addFilter(_DropFilter())


def _json_message(status: int, body: dict[str, object], extra_headers: list[tuple[bytes, bytes]]):
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *extra_headers,
    ]
    return {"type": "http.response.start", "status": status, "headers": headers}, payload


def _mislabel(send: Send) -> Send:
    """A ``wrong-type`` fault: the real answer, its Content-Type replaced by text/plain."""

    async def wrapper(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [
                (k, v) for k, v in message.get("headers", []) if k.lower() != b"content-type"
            ]
            headers.append((b"content-type", b"text/plain; charset=utf-8"))
            message = {**message, "headers": headers}
        await send(message)

    return wrapper


class Guard:
    """ASGI middleware; see the module docstring. ``model`` owns the clock and request log."""

    def __init__(self, app: ASGIApp, model: Model, faults: FaultQueue) -> None:
        self.app = app
        self.model = model
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        headers = scope.get("headers", [])
        problem = _head_problem(scope)
        if problem is not None:
            await self._answer(send, 431, problem, close=True)
            return
        public = path.startswith(PUBLIC_PREFIX) and method != "OPTIONS"
        no_store = path.startswith(NO_STORE_PREFIXES)
        override = method_override(headers) if method == "POST" else None
        route = public_route(method, path, override)
        target = _target(scope)
        entry: dict[str, object] = {
            "time": int(self.model.clock() * 1000),
            "method": method,
            "path": path[: limits.REQUEST_TARGET_SHOWN],
            "query": scope.get("query_string", b"").decode("latin-1")[
                : limits.REQUEST_TARGET_SHOWN
            ],
            "target": target,
            "requestLine": f"{method} {target}",
            "route": route,
            "status": None,
        }
        if override is not None:
            entry["methodOverride"] = override
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                entry["status"] = message["status"]
                headers = list(message.get("headers", []))
                has_cache = any(k.lower() == b"cache-control" for k, _ in headers)
                if no_store or not has_cache:  # static files set their own policy
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                    message = {**message, "headers": headers}
            await send(message)

        if public:
            self.model.log_request(entry)
            fault = self.faults.take(route)
            if fault is not None:
                entry["fault"] = fault.mode or fault.status or "delay"
                if fault.delay_ms:
                    await asyncio.sleep(fault.delay_ms / 1000)
                if fault.mode == "wrong-type":
                    send_wrapper = _mislabel(send_wrapper)
                elif fault.status is not None or fault.mode is not None:
                    try:
                        await self._answer_fault(fault, send_wrapper)
                    except DroppedConnection:
                        entry["status"] = None  # the client never got a complete answer
                        raise
                    return
        try:
            await self.app(scope, receive, send_wrapper)
        except ClientDisconnect:
            # The client gave up (its own timeout, a closed tab) before the answer was written:
            # nobody is left to answer, and it is no bug of ours. The log says what happened.
            entry["status"] = None
            entry["disconnected"] = True
        except Exception:
            if started:
                raise
            log.exception("bug in the emulator while answering %s %s", scope["method"], path)
            start, payload = _json_message(
                500,
                error_body(
                    500,
                    "internal error in the emulator (a bug; see the server log)",
                    time_ms=int(self.model.clock() * 1000),
                ),
                [],
            )
            await send_wrapper(start)
            await send_wrapper({"type": "http.response.body", "body": payload})

    async def _answer(self, send: Send, status: int, message: str, *, close: bool = False) -> None:
        extra = [(b"connection", b"close")] if close else []
        extra.append((b"cache-control", b"no-store"))
        start, payload = _json_message(
            status, error_body(status, message, time_ms=int(self.model.clock() * 1000)), extra
        )
        await send(start)
        await send({"type": "http.response.body", "body": payload})

    async def _answer_fault(self, fault: Fault, send: Send) -> None:
        now_ms = int(self.model.clock() * 1000)
        if fault.status is not None:
            extra = []
            if fault.retry_after is not None:
                extra.append((b"retry-after", str(fault.retry_after).encode()))
            start, payload = _json_message(
                fault.status,
                error_body(fault.status, f"injected fault: HTTP {fault.status}", time_ms=now_ms),
                extra,
            )
            await send(start)
            await send({"type": "http.response.body", "body": payload})
            return
        if fault.mode == "drop":
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"4096"),
                    ],
                }
            )
            await send(
                {"type": "http.response.body", "body": b'{"status": "Avail', "more_body": True}
            )
            raise DroppedConnection("drop fault: connection closed mid-answer")
        if fault.mode == "malformed":
            ctype, payload = b"application/json", b'{"status": "Available", "sessionId": '
        else:  # html
            ctype = b"text/html; charset=utf-8"
            payload = (
                b"<!doctype html><html><head><title>502 Bad Gateway</title></head>"
                b"<body><h1>Bad Gateway</h1><p>The upstream server did not answer.</p>"
                b"</body></html>"
            )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", ctype),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
