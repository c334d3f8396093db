"""How the emulator is served: uvicorn settings that cut off slow and oversized clients.

uvicorn alone waits for ever on a client that sends its request head a byte at a time (its
keep-alive timer is reset by every byte), and answers an oversized head with a bare text 400.
:func:`server_config` builds the uvicorn ``Config`` the emulator runs under (``python3 -m
engage_web serve``, the demo server, tests), with the bounds of ``limits.py``:

- a request head (request line and headers) over ``MAX_HEAD_BYTES`` answers 431, a malformed one
  400, both as the documented JSON error body, and the connection is closed;
- a request head not complete ``HEAD_TIMEOUT`` seconds after the connection opened (or after
  the previous answer on it) answers 408 and the connection is closed; a connection that sent
  nothing is closed silently;
- a body not complete ``body_timeout`` (plus a second of grace) after its head closes the
  connection; the routes themselves answer 408 at ``body_timeout`` (``bodies.py``);
- idle keep-alive connections close after ``KEEP_ALIVE_TIMEOUT`` seconds, and requests beyond
  ``MAX_CONNECTIONS`` open connections answer 503.

Example::

    import uvicorn
    from engage_web.cpython.emulator import create_app
    from engage_web.cpython.emulator.server import server_config

    uvicorn.Server(server_config(create_app(), host="127.0.0.1", port=8765)).run()
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from engage_web.cpython.emulator import limits

from .errors import error_body

__all__ = ["GuardedH11Protocol", "guarded_protocol", "server_config"]

#: Seconds past the body timeout after which the server itself closes a connection whose body
#: is still arriving (the route has answered 408 by then, or never reads bodies).
BODY_GRACE = 1.0


def _raw_error(status: int, reason: bytes, message: str) -> bytes:
    """A complete HTTP/1.1 error answer with the JSON error body, closing the connection."""
    body = json.dumps(error_body(status, message, time_ms=int(time.time() * 1000))).encode()
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
        b"cache-control: no-store\r\nconnection: close\r\n\r\n" % (status, reason, len(body))
    )
    return head + body


class _WatchedConnection(h11.Connection):
    """h11's connection, telling the protocol about each event and keeping the last protocol
    error (whose ``error_status_hint`` says 431 for an oversized head)."""

    def __init__(self, *args: Any, on_event: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_event = on_event
        self.protocol_error: h11.RemoteProtocolError | None = None

    def next_event(self) -> Any:
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as exc:
            self.protocol_error = exc
            raise
        self.on_event(event)
        return event


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a head deadline, a body deadline and JSON 400/431 answers.

    The deadlines are class attributes; :func:`guarded_protocol` makes a subclass with others.
    """

    head_timeout: float = limits.HEAD_TIMEOUT
    body_timeout: float = limits.BODY_TIMEOUT
    body_grace: float = BODY_GRACE

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.conn = _WatchedConnection(
            h11.SERVER,
            max_incomplete_event_size=self.config.h11_max_incomplete_event_size
            or limits.MAX_HEAD_BYTES,
            on_event=self._on_event,
        )
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._head_started = False

    # -- deadlines -----------------------------------------------------------------------

    def _cancel(self, name: str) -> None:
        timer = getattr(self, name)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _await_head(self) -> None:
        """The connection now waits for a request head: the head deadline starts now."""
        self._cancel("_head_timer")
        self._head_started = False
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_too_slow)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, h11.Request):
            self._cancel("_head_timer")
            self._cancel("_body_timer")
            self._body_timer = self.loop.call_later(
                self.body_timeout + self.body_grace, self._body_too_slow
            )
        elif isinstance(event, h11.EndOfMessage):
            self._cancel("_body_timer")

    def _head_too_slow(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_started:
            self.logger.info("closing a connection whose request head did not arrive in time")
            message = f"the request head did not arrive within {self.head_timeout:g} s"
            self.transport.write(_raw_error(408, b"Request Timeout", message))
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._body_timer = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request body did not arrive in time")
            self.transport.close()

    # -- uvicorn's protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def data_received(self, data: bytes) -> None:
        if data and self._head_timer is not None:
            self._head_started = True
        super().data_received(data)

    def on_response_complete(self) -> None:
        # Armed before the parent handles pipelined requests, which may start the next one.
        self._await_head()
        super().on_response_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel("_head_timer")
        self._cancel("_body_timer")
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        error = self.conn.protocol_error
        status = getattr(error, "error_status_hint", 400) or 400
        if status == 431:
            message = (
                f"the request head (request line and headers) is over {limits.MAX_HEAD_BYTES} bytes"
            )
        else:
            status = 400
            detail = str(error or msg)[:200]
            message = f"invalid HTTP request: {detail}"
        reason = b"Request Header Fields Too Large" if status == 431 else b"Bad Request"
        self.logger.info("refusing a request: %s", message)
        self._cancel("_head_timer")
        if not self.transport.is_closing():
            self.transport.write(_raw_error(status, reason, message))
            self.transport.close()


def guarded_protocol(
    *,
    head_timeout: float = limits.HEAD_TIMEOUT,
    body_timeout: float = limits.BODY_TIMEOUT,
    body_grace: float = BODY_GRACE,
) -> type[GuardedH11Protocol]:
    """A :class:`GuardedH11Protocol` with these deadlines (tests use short ones).

    >>> guarded_protocol(head_timeout=0.5).head_timeout
    0.5
    """
    return type(
        "GuardedH11Protocol",
        (GuardedH11Protocol,),
        {"head_timeout": head_timeout, "body_timeout": body_timeout, "body_grace": body_grace},
    )


def server_config(
    app: Any,
    *,
    head_timeout: float = limits.HEAD_TIMEOUT,
    body_timeout: float = limits.BODY_TIMEOUT,
    body_grace: float = BODY_GRACE,
    **overrides: Any,
) -> uvicorn.Config:
    """The uvicorn ``Config`` to serve ``app`` with the emulator's limits; ``overrides`` are
    further ``uvicorn.Config`` arguments (``host``, ``port``, ``log_level``, ...).

    ``body_timeout`` should be the app's own (``create_app(body_timeout=...)``), so the route
    answers 408 before the server closes the connection.

    Example::

        >>> config = server_config(object(), port=0)
        >>> config.h11_max_incomplete_event_size, config.limit_concurrency
        (16384, 1000)
    """
    settings: dict[str, Any] = {
        "http": guarded_protocol(
            head_timeout=head_timeout, body_timeout=body_timeout, body_grace=body_grace
        ),
        "h11_max_incomplete_event_size": limits.MAX_HEAD_BYTES,
        "timeout_keep_alive": limits.KEEP_ALIVE_TIMEOUT,
        "limit_concurrency": limits.MAX_CONNECTIONS,
        "log_level": "warning",
        "lifespan": "off",
        "access_log": False,
        "timeout_graceful_shutdown": 2,
    }
    settings.update(overrides)
    return uvicorn.Config(app, **settings)
