"""Where an account's App Engagement API lives: the Domain API answer and its cache.

A site owner gives an account id and nothing else. LivePerson's Domain API names the host of each
of the account's services; the App Engagement API's service is ``msdkgw``
(``docs/protocol.md``, "Base URL"). ``ChatApi`` asks it once, keeps the answer in a
:class:`BaseCache` for a day (:data:`BASE_TTL`), and asks again when the cached host stops
answering. This module holds the pure parts: the classification of a Domain API answer, the
cached value and the in-memory cache::

    >>> from engage_web.core.transport import HttpResponse
    >>> classify = domain_classifier("http://127.0.0.1:8765", "demo")
    >>> body = '{"service": "msdkgw", "account": "demo", "baseURI": "127.0.0.1:8765"}'
    >>> classify(HttpResponse(200, {}, body)).outcome
    {'status': 'Resolved', 'base': 'http://127.0.0.1:8765'}
    >>> classify(HttpResponse(404, {}, '{"message": "no such account"}')).kind.value
    'final_status'
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from . import jsontext
from .outcome import (
    DEFAULT_RETRY_STATUSES,
    Answer,
    AnswerKind,
    error_answer,
    error_outcome,
)
from .transport import HttpResponse
from .wire import SERVICE, base_from_domain_answer

__all__ = [
    "BASE_TTL",
    "BaseCache",
    "MemoryBaseCache",
    "ResolvedBase",
    "domain_classifier",
    "lookup_error",
]

#: How long a resolved base is used before the Domain API is asked again (seconds).
BASE_TTL = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class ResolvedBase:
    """A base URL the Domain API named, and when (epoch seconds).

    >>> ResolvedBase("https://va.example", 1000.0).fresh(now=1000.0 + BASE_TTL - 1)
    True
    """

    base: str
    resolved_at: float

    def fresh(self, now: float, ttl: float = BASE_TTL) -> bool:
        """True while the answer is younger than ``ttl`` (and not from the future)."""
        return 0 <= now - self.resolved_at < ttl


class BaseCache(Protocol):
    """Where ``ChatApi`` keeps the resolved base of its account and Domain API between calls
    (and runs: the command line keeps it in its state file)."""

    def load_base(self) -> ResolvedBase | None:
        """The cached base, or ``None``."""
        ...

    def save_base(self, resolved: ResolvedBase | None) -> None:
        """Cache ``resolved`` (``None`` forgets it)."""
        ...


class MemoryBaseCache:
    """A :class:`BaseCache` in memory (the default).

    >>> cache = MemoryBaseCache(); cache.save_base(ResolvedBase("https://h", 0.0))
    >>> cache.load_base().base
    'https://h'
    """

    def __init__(self, resolved: ResolvedBase | None = None) -> None:
        self._resolved = resolved

    def load_base(self) -> ResolvedBase | None:
        """The cached base, or ``None``."""
        return self._resolved

    def save_base(self, resolved: ResolvedBase | None) -> None:
        """Replace the cached base (``None`` forgets it)."""
        self._resolved = resolved


def domain_classifier(
    domain_api: str, account_id: str
) -> Callable[[HttpResponse, frozenset[int]], Answer]:
    """A ``classify`` function for the :class:`~engage_web.core.engine.Check` of one look-up.

    A 200 naming a usable ``baseURI`` is ``accepted`` with the outcome ``{"status": "Resolved",
    "base": ...}``; a 200 that names none is malformed (retried like a proxy's error page);
    error statuses are classified as for any other exchange.
    """

    def classify(
        response: HttpResponse, retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
    ) -> Answer:
        if response.status >= 400:
            return error_answer(response, retry_statuses)
        try:
            if response.status not in (200, 201):
                raise ValueError(f"unexpected HTTP status {response.status}")
            body = jsontext.loads(response.body)
            base = base_from_domain_answer(body, domain_api, account_id)
        except (ValueError, TypeError, RecursionError) as exc:
            problem = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
            if isinstance(exc, json.JSONDecodeError):
                problem = "the body is not JSON"
            elif isinstance(exc, jsontext.JsonBoundsError):
                problem = f"the body is JSON {exc}"
            message = f"malformed Domain API answer (HTTP {response.status}): {problem}"
            outcome = error_outcome("malformed", message, httpStatus=response.status)
            return Answer(AnswerKind.MALFORMED, response.status, outcome)
        return Answer(
            AnswerKind.ACCEPTED, response.status, {"status": "Resolved", "base": base}
        )

    return classify


def lookup_error(failure: dict[str, Any], domain_api: str, account_id: str) -> dict[str, Any]:
    """The Error outcome of a failed look-up: code ``"lookup"``, the look-up's own code in
    ``cause``, and a message naming the service, the account and the Domain API.

    >>> failure = error_outcome(404, "unknown account", attempts=1)
    >>> lookup_error(failure, "https://api.liveperson.net", "123")["error"]["cause"]
    404
    """
    error = dict(failure.get("error") or {})
    cause = error.get("code")
    message = (
        f"the Domain API ({domain_api}) could not name the {SERVICE} service of account "
        f"{account_id!r}: {error.get('message')}"
    )
    extra = {k: v for k, v in error.items() if k not in ("code", "message", "field")}
    field = "accountId" if cause == 404 else error.get("field")
    return error_outcome("lookup", message, field=field, cause=cause, **extra)
