"""What a server answer means: the outcome handed to ``onEngagement``, and how to go on.

Every HTTP answer becomes an :class:`Answer`: its ``kind`` tells the retry logic what to do
(finish, re-check, retry, give up) and its ``outcome`` is the dict the page would receive if the
check ended here. Nothing in this module raises on bad input: a proxy's HTML page, a body that is
not JSON, a JSON object with the wrong types, all become ``Error`` outcomes whose message says
exactly what was wrong (``contract.md``, "The outcome handed to onEngagement")::

    >>> from engage_web.transport import HttpResponse
    >>> answer = classify_engagement(HttpResponse(503, {"retry-after": "2"}, "busy"))
    >>> answer.kind.value, answer.retry_after, answer.outcome["error"]["code"]
    ('retryable_status', '2', 503)
    >>> body = '{"status": "NotAvailable", "sessionId": "s", "visitorId": "v", "pageId": "p"}'
    >>> classify_engagement(HttpResponse(201, {}, body)).outcome["status"]
    'NotAvailable'

Outcome codes: the HTTP status for error answers, ``"network"``, ``"timeout"``, ``"cancelled"``,
and ``"malformed"`` for a success status whose body is not the contract's object (the error then
also carries ``httpStatus``). ``ChatApi`` adds ``"internal"`` for its own bugs (never expected).
Error outcomes made by the engine also carry ``attempts`` (how many requests were sent).

Malformed answers are RETRIED (kind ``malformed``, counted against the same retry budget as
network failures): the usual cause is a proxy, captive portal or load balancer answering with its
own HTML page for a moment, which a bounded retry gets past; a server that keeps sending garbage
still ends with one ``Error`` outcome after the budget. ``RetryPolicy.retry_malformed`` turns this
off.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from .session import Session, session_from_answer
from .transport import HttpResponse

__all__ = [
    "DEFAULT_RETRY_STATUSES",
    "Answer",
    "AnswerKind",
    "classify_engagement",
    "classify_report",
    "engagement_problem",
    "error_outcome",
    "http_error_outcome",
]

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})

_DETAIL_STRINGS = ("campaignId", "engagementId", "contextId", "windowId", "language")
_DETAIL_INTS = ("engagementRevision", "validForSeconds")


class AnswerKind(StrEnum):
    """How an HTTP answer moves the check on."""

    AVAILABLE = "available"  # final: an engagement is offered
    NOT_AVAILABLE = "not_available"  # final unless NotAvailable re-checks remain
    ACCEPTED = "accepted"  # a report was taken (2xx)
    RETRYABLE_STATUS = "retryable_status"  # 429/5xx worth another attempt
    FINAL_STATUS = "final_status"  # any other error status: never retried
    MALFORMED = "malformed"  # success status, but not the contract's body


@dataclass(frozen=True, slots=True)
class Answer:
    """One classified server answer.

    ``outcome`` is the dict the check would end with; ``retry_after`` the raw ``Retry-After``
    header; ``session`` the ids the answer names (``None`` for errors). ``reason`` is the label
    ``onRetry`` reports if this answer is retried (``"NotAvailable"``, ``"http-503"``,
    ``"malformed"``).
    """

    kind: AnswerKind
    status: int
    outcome: dict[str, Any]
    retry_after: str | None = None
    session: Session | None = field(default=None)

    @property
    def reason(self) -> str:
        """The ``onRetry`` reason for retrying after this answer."""
        if self.kind is AnswerKind.NOT_AVAILABLE:
            return "NotAvailable"
        if self.kind is AnswerKind.MALFORMED:
            return "malformed"
        return f"http-{self.status}"


def error_outcome(
    code: int | str,
    message: str,
    *,
    field: str | None = None,
    session: Session | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An ``Error`` outcome: ``{"status": "Error", "error": {code, message, field, ...}}``.

    ``extra`` keys go into ``error``; the session ids are added when known::

        >>> error_outcome("network", "Failed to fetch", session=Session("v", "s"))
        ... # doctest: +NORMALIZE_WHITESPACE
        {'status': 'Error', 'error': {'code': 'network', 'message': 'Failed to fetch',
         'field': None}, 'visitorId': 'v', 'sessionId': 's'}
    """
    error: dict[str, Any] = {"code": code, "message": message, "field": field}
    error.update(extra)
    outcome: dict[str, Any] = {"status": "Error", "error": error}
    if session is not None:
        outcome["visitorId"] = session.visitor_id
        if session.session_id:
            outcome["sessionId"] = session.session_id
    return outcome


def http_error_outcome(response: HttpResponse) -> dict[str, Any]:
    """The ``Error`` outcome for an error status (4xx/5xx), using the JSON error body if any.

    The contract's error body ``{"time", "message", "internalCode", "field"}`` gives the message,
    the field and ``internalCode``; any other body gives ``HTTP <status> <phrase>``::

        >>> http_error_outcome(HttpResponse(404, {}, '{"message": "unknown account"}'))["error"]
        {'code': 404, 'message': 'unknown account', 'field': None}
        >>> http_error_outcome(HttpResponse(502, {}, "<html>"))["error"]["message"]
        'HTTP 502 Bad Gateway'
    """
    status = response.status
    body = _json_or_none(response.body)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        field = body.get("field") if isinstance(body.get("field"), str) else None
        extra = {}
        if isinstance(body.get("internalCode"), int | str):
            extra["internalCode"] = body["internalCode"]
        return error_outcome(status, body["message"], field=field, **extra)
    return error_outcome(status, f"HTTP {status} {_phrase(status)}".rstrip())


def engagement_problem(body: object) -> str | None:
    """What is wrong with an engagement answer body, or ``None`` when it follows the contract.

    >>> engagement_problem({"status": "Available", "sessionId": "s", "visitorId": "v",
    ...                     "pageId": "p"})
    'Available answer without engagementDetails'
    """
    if not isinstance(body, dict):
        return f"the body is a JSON {_json_type(body)}, not an object"
    status = body.get("status")
    if "status" not in body:
        return "the body has no status"
    if status not in ("Available", "NotAvailable"):
        return f"status must be 'Available' or 'NotAvailable'; got {_show(status)}"
    for key in ("sessionId", "visitorId", "pageId"):
        if not isinstance(body.get(key), str) or not body[key]:
            return f"{key} must be a non-empty string; got {_show_key(body, key)}"
    if status == "NotAvailable":
        return None
    details = body.get("engagementDetails")
    if details is None:
        return "Available answer without engagementDetails"
    if not isinstance(details, dict):
        return f"engagementDetails must be an object; got a JSON {_json_type(details)}"
    for key in _DETAIL_STRINGS:
        if not isinstance(details.get(key), str):
            return f"engagementDetails.{key} must be a string; got {_show_key(details, key)}"
    for key in _DETAIL_INTS:
        if not _is_int(details.get(key)):
            return f"engagementDetails.{key} must be an integer; got {_show_key(details, key)}"
    if "skillId" in details and details["skillId"] is not None and not _is_int(details["skillId"]):
        return f"engagementDetails.skillId must be an integer; got {_show(details['skillId'])}"
    skill_name = details.get("skillName")
    if skill_name is not None and not isinstance(skill_name, str):
        return f"engagementDetails.skillName must be a string; got {_show(skill_name)}"
    return None


def classify_engagement(
    response: HttpResponse, retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> Answer:
    """Classify the answer to an engagement check (``POST .../engagement``).

    200/201 with a valid body pass through as received (unknown keys kept); error statuses in
    ``retry_statuses`` are retryable, other 4xx/5xx final; anything else is malformed::

        >>> classify_engagement(HttpResponse(400, {}, "{}")).kind.value
        'final_status'
        >>> classify_engagement(HttpResponse(200, {}, "<!DOCTYPE html>")).kind.value
        'malformed'
    """
    status = response.status
    if status >= 400:
        return _error_answer(response, retry_statuses)
    if status not in (200, 201):
        return _malformed(response, f"unexpected HTTP status {status} {_phrase(status)}".rstrip())
    body = _json_or_none(response.body)
    if body is _NOT_JSON:
        return _malformed(response, _not_json(response))
    problem = engagement_problem(body)
    if problem is not None:
        return _malformed(response, problem)
    kind = AnswerKind.AVAILABLE if body["status"] == "Available" else AnswerKind.NOT_AVAILABLE
    return Answer(kind, status, body, response.header("retry-after"), session_from_answer(body))


def classify_report(
    response: HttpResponse, retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> Answer:
    """Classify the answer to a report (``PUT .../report``): any 2xx means delivered.

    The outcome is ``{"status": "Reported", "delivered": True, ...}`` with the keys of a JSON
    object body (if any) kept; error outcomes say ``"delivered": False``::

        >>> classify_report(HttpResponse(204, {}, "")).outcome
        {'status': 'Reported', 'delivered': True}
        >>> classify_report(HttpResponse(401, {}, "")).outcome["delivered"]
        False
    """
    status = response.status
    if 200 <= status < 300:
        body = _json_or_none(response.body)
        outcome: dict[str, Any] = dict(body) if isinstance(body, dict) else {}
        outcome.update({"status": "Reported", "delivered": True})
        return Answer(AnswerKind.ACCEPTED, status, outcome)
    if status >= 400:
        answer = _error_answer(response, retry_statuses)
    else:
        answer = _malformed(response, f"unexpected HTTP status {status} {_phrase(status)}".rstrip())
    answer.outcome["delivered"] = False
    return answer


def _error_answer(response: HttpResponse, retry_statuses: frozenset[int]) -> Answer:
    retryable = response.status in retry_statuses
    kind = AnswerKind.RETRYABLE_STATUS if retryable else AnswerKind.FINAL_STATUS
    outcome = http_error_outcome(response)
    return Answer(kind, response.status, outcome, response.header("retry-after"))


def _malformed(response: HttpResponse, problem: str) -> Answer:
    message = f"malformed answer (HTTP {response.status}): {problem}"
    outcome = error_outcome("malformed", message, httpStatus=response.status)
    return Answer(AnswerKind.MALFORMED, response.status, outcome, response.header("retry-after"))


def _not_json(response: HttpResponse) -> str:
    text = response.body.strip()
    if not text:
        return "the body is empty, not a JSON object"
    kind = response.header("content-type") or "no content type"
    return f"the body is not JSON ({kind}; starts with {text[:40]!r})"


_NOT_JSON = object()


def _json_or_none(text: str) -> Any:
    """The parsed JSON value, or ``_NOT_JSON`` (``null`` is a JSON value, not a failure)."""
    try:
        return json.loads(text)
    except (ValueError, TypeError, RecursionError):
        return _NOT_JSON


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, Mapping) else type(value).__name__


def _show(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({_json_type(value)})" if not isinstance(value, str) else text


def _show_key(mapping: Mapping[str, object], key: str) -> str:
    return _show(mapping[key]) if key in mapping else "nothing (missing)"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
