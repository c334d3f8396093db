"""The error family of engage-web: every exception the package raises on purpose.

All errors derive from :class:`EngageError`, and each keeps the fields a caller needs to act on
it, the way ``pyodide.http.HttpStatusError`` keeps ``status`` and ``url``::

    >>> from engage_web import validate_request, RequestError
    >>> try:
    ...     validate_request({"appType": "MOBILE"})
    ... except RequestError as exc:
    ...     (exc.status, exc.field)
    (400, 'appType')

Errors never escape to a web page: the engine turns them into an ``Error`` outcome (see
``engage_web.core.outcome``). They exist for Python callers and for the engine's own bookkeeping.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AttemptTimeout",
    "ConfigError",
    "EngageError",
    "FieldError",
    "NetworkError",
    "RedirectRefused",
    "RequestError",
    "TransportError",
]


class EngageError(Exception):
    """Base class of every error engage-web raises on purpose."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem found in a request: where (dotted ``field`` path), what, and which status.

    ``status`` is 401 for visitor-session problems (``vid``/``sid``) and 400 otherwise.

    Example::

        FieldError("appDetails.os", "must be one of WINDOWS, MAC_OSX, ...; got 'mac'")
    """

    field: str
    message: str
    status: int = 400

    def to_dict(self) -> dict[str, object]:
        """The JSON-able form used in error outcomes and emulator error bodies."""
        return {"field": self.field, "message": self.message, "status": self.status}


class RequestError(EngageError, ValueError):
    """A request object that breaks the contract; nothing was sent.

    ``errors`` lists every problem found (not just the first). ``status`` is 401 when any problem
    concerns the visitor session (the contract checks the session first), else 400. ``field`` is
    the dotted path of the first problem with that status.

    Example::

        >>> err = RequestError([FieldError("sid", "needs vid", 401), FieldError("appType", "bad")])
        >>> err.status, err.field
        (401, 'sid')
    """

    def __init__(self, errors: list[FieldError] | tuple[FieldError, ...]) -> None:
        if not errors:
            raise ValueError("RequestError needs at least one FieldError")
        self.errors: tuple[FieldError, ...] = tuple(errors)
        self.status: int = 401 if any(e.status == 401 for e in self.errors) else 400
        first = next(e for e in self.errors if e.status == self.status)
        self.field: str = first.field
        self.message: str = first.message
        super().__init__(self._summary())

    def _summary(self) -> str:
        head = f"{self.field}: {self.message}"
        more = len(self.errors) - 1
        return head if not more else f"{head} (and {more} more problem{'s' * (more > 1)})"

    def to_dict(self) -> dict[str, object]:
        """JSON-able form: status, first field and message, and the full list of problems."""
        return {
            "status": self.status,
            "field": self.field,
            "message": self.message,
            "errors": [e.to_dict() for e in self.errors],
        }


class ConfigError(EngageError, ValueError):
    """A bad configuration value (``ChatApi`` options, retry options, scenario files).

    ``option`` names the offending option, e.g. ``"retry.attempt_timeout"``; the message names the
    allowed values and what was received.

    Example::

        >>> str(ConfigError("endpoint", "must be an http(s) URL; got 'ftp://x'"))
        "endpoint: must be an http(s) URL; got 'ftp://x'"
    """

    def __init__(self, option: str, message: str) -> None:
        self.option = option
        self.message = message
        super().__init__(f"{option}: {message}")


class TransportError(EngageError, OSError):
    """One HTTP exchange failed without an HTTP answer. Raised by transports, not by the engine.

    ``reason`` is the outcome code the engine reports for it: ``"network"``, ``"timeout"`` or
    ``"redirect"``. ``final`` failures are never retried (time does not cure them).
    """

    reason = "network"
    final = False


class NetworkError(TransportError):
    """The request could not be delivered or answered: connection refused or dropped, DNS, CORS."""

    reason = "network"


class RedirectRefused(TransportError):
    """The server answered with a redirect, which is not followed: an engagement API never
    redirects, and following one would send the visitor's ids and SDEs to an address nobody
    configured (a 307 would even re-post the body). Final: the configuration must change.

    Example::

        >>> str(RedirectRefused("https://h/x", 302, "http://elsewhere/"))[:60]
        'https://h/x answered HTTP 302, a redirect to http://elsewher'
    """

    reason = "redirect"
    final = True

    def __init__(self, url: str, status: int | None = None, location: str | None = None) -> None:
        self.url = url
        self.status = status
        self.location = location
        answered = f"HTTP {status}, a redirect" if status else "a redirect"
        to = f" to {location[:200]}" if location else ""
        super().__init__(
            f"{url[:200]} answered {answered}{to}; redirects are not followed: configure the "
            "address the service really answers on"
        )


class AttemptTimeout(TransportError):
    """No answer within the per-attempt timeout (``timeout`` seconds); the request was aborted."""

    reason = "timeout"

    def __init__(self, timeout: float, message: str | None = None) -> None:
        self.timeout = timeout
        super().__init__(message or f"no answer within {timeout:g} s")
