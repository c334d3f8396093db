"""What a server answer means: the outcome handed to ``onEngagement``, and how to go on.

Every HTTP answer becomes an :class:`Answer`: its ``kind`` tells the retry logic what to do
(finish, re-check, retry, give up) and its ``outcome`` is the dict the page would receive if the
check ended here. Nothing in this module raises on bad input: a proxy's HTML page, a body that is
not JSON, a JSON object with the wrong types, all become ``Error`` outcomes whose message says
exactly what was wrong (``docs/protocol.md``, "Answers")::

    >>> from engage_web.core.transport import HttpResponse
    >>> answer = classify_engagement(HttpResponse(503, {"retry-after": "2"}, "busy"))
    >>> answer.kind.value, answer.retry_after, answer.outcome["error"]["code"]
    ('retryable_status', '2', 503)
    >>> body = '{"status": "NotAvailable", "sessionId": "s", "visitorId": "v", "pageId": "p"}'
    >>> classify_engagement(HttpResponse(200, {}, body)).outcome["status"]
    'NotAvailable'

LivePerson answers a check with 200 (201 is taken as 200), its ids as strings or numbers, and
keys this module does not know (``connectorId``, future ones): all are kept as received. Its
error bodies are ``{"time", "message" (optional), "internalCode"}``; the Error outcome carries
``internalCode`` when there is one. A cold account answers ``500`` with ``internalCode`` 20 and
``"Loading account: {accountId}, vid: {vid}"``: kind ``account_loading``, whose ``session`` is
that vid, so the retry continues the same visitor.

Outcome codes: the HTTP status for error answers, ``"network"``, ``"timeout"``, ``"cancelled"``,
and ``"malformed"`` for a success status whose body is not the API's object (the error then
also carries ``httpStatus``). ``ChatApi`` adds ``"lookup"`` (the Domain API look-up of the base
failed; ``cause`` holds the look-up's own code), ``"config"`` and ``"internal"`` (its own bugs,
never expected). Error outcomes made by the engine also carry ``attempts`` (requests sent) and
``transient`` (:func:`is_transient`: would the same call, made again later, have a chance? The
page's outbox keeps a report on ``True`` and drops it on ``False``; the question is answered
here, once, from the retry policy, and nowhere else).

Outcomes are plain data: keys of an answer that collide with members of JavaScript's
``Object.prototype`` (``__proto__``, ``constructor``, ``toString``, ...) are dropped at any depth
(:func:`plain_data`), so a page can spread, ``Object.assign`` and print what it is handed::

    >>> plain_data({"status": "NotAvailable", "__proto__": {"x": 1}, "a": [{"toString": 1}]})
    {'status': 'NotAvailable', 'a': [{}]}

Malformed answers are RETRIED (kind ``malformed``, counted against the same retry budget as
network failures): the usual cause is a proxy, captive portal or load balancer answering with its
own HTML page for a moment, which a bounded retry gets past; a server that keeps sending garbage
still ends with one ``Error`` outcome after the budget. ``RetryPolicy.retry_malformed`` turns this
off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from http import HTTPStatus
from typing import Any

from . import jsontext
from .session import Session, session_from_answer
from .text import shown
from .transport import HttpResponse

__all__ = [
    "ACCOUNT_LOADING_CODE",
    "DEFAULT_RETRY_STATUSES",
    "PROTOTYPE_KEYS",
    "Answer",
    "AnswerKind",
    "classify_engagement",
    "classify_report",
    "engagement_problem",
    "error_answer",
    "error_outcome",
    "http_error_outcome",
    "is_transient",
    "loading_visitor_id",
    "mark_transient",
    "plain_data",
]

DEFAULT_RETRY_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})
#: LivePerson's internal code of "Loading account: {accountId}, vid: {vid}" (a cold account).
ACCOUNT_LOADING_CODE = 20

# engagementDetails keys: ids LivePerson documents as numbers and sends as strings (either is
# taken), strings, and whole numbers. Optional ones are checked only when present.
_DETAIL_IDS = ("campaignId", "engagementId", "contextId", "windowId")
_DETAIL_STRINGS = ("language",)
_DETAIL_INTS = ("engagementRevision", "validForSeconds")
_OPTIONAL_IDS = ("skillId", "connectorId")
#: Members of JavaScript's ``Object.prototype``. As own keys of an outcome they would hand the
#: page a prototype the server chose (``Object.assign({}, outcome)`` with ``__proto__``) or make
#: ``'' + outcome`` throw (``toString``/``valueOf`` that are not functions): never kept.
PROTOTYPE_KEYS: frozenset[str] = frozenset(
    {
        "__proto__",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
        "constructor",
        "hasOwnProperty",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
        "toString",
        "valueOf",
    }
)
# Error codes of failures that time can cure (the HTTP statuses are the policy's own).
_TRANSIENT_CODES = frozenset({"network", "timeout", "malformed", "cancelled"})
_LOADING = re.compile(r"^Loading account: *[^,]*, *vid: *([A-Za-z0-9_.\-]{1,64}) *$")


class AnswerKind(StrEnum):
    """How an HTTP answer moves the check on."""

    AVAILABLE = "available"  # final: an engagement is offered
    NOT_AVAILABLE = "not_available"  # final unless NotAvailable re-checks remain
    ACCEPTED = "accepted"  # a report was taken, a look-up answered (2xx)
    RETRYABLE_STATUS = "retryable_status"  # 429/5xx worth another attempt
    ACCOUNT_LOADING = "account_loading"  # 500/20: a cold account is loading; retry, same vid
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
        if self.kind is AnswerKind.ACCOUNT_LOADING:
            return "account-loading"
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


def plain_data(value: Any) -> Any:
    """``value`` (parsed JSON) without the keys in :data:`PROTOTYPE_KEYS`, at any depth.

    Answers are bounded before they are parsed (``engage_web.core.jsontext``: 64 levels), so the
    recursion is too::

        >>> plain_data([{"constructor": {"prototype": 1}, "ok": {"valueOf": 0, "v": 1}}])
        [{'ok': {'v': 1}}]
    """
    if isinstance(value, dict):
        return {
            key: plain_data(item) for key, item in value.items() if key not in PROTOTYPE_KEYS
        }
    if isinstance(value, list):
        return [plain_data(item) for item in value]
    return value


def is_transient(
    error: Mapping[str, Any], retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> bool:
    """Can time cure this failure? True when the same call, made again later, may succeed.

    True: a status the policy retries (``retry_statuses``: 429, 5xx), a cold account (500 with
    ``internalCode`` 20), ``network``, ``timeout``, ``malformed`` (a proxy's page is gone a
    moment later), ``cancelled``, and a ``lookup`` whose ``cause`` is one of those. False: every
    other status (validation 400/401, 404, 413...), ``redirect`` (the configuration must
    change), ``config``, ``internal`` and anything unknown::

        >>> is_transient({"code": 503}), is_transient({"code": 400}), is_transient({"code": 501})
        (True, False, False)
        >>> is_transient({"code": "lookup", "cause": "network"}), is_transient({"code": "redirect"})
        (True, False)
    """
    code = error.get("code")
    if code == "lookup":
        code = error.get("cause")
    if isinstance(code, bool):
        return False
    if isinstance(code, int):
        loading = code == 500 and error.get("internalCode") == ACCOUNT_LOADING_CODE
        return code in retry_statuses or loading
    return code in _TRANSIENT_CODES


def mark_transient(
    outcome: dict[str, Any], retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> dict[str, Any]:
    """Set ``error["transient"]`` (:func:`is_transient`) on an Error outcome; returns it.

    Other outcomes are returned untouched::

        >>> mark_transient(error_outcome("timeout", "no answer"))["error"]["transient"]
        True
    """
    error = outcome.get("error") if outcome.get("status") == "Error" else None
    if isinstance(error, dict):
        error["transient"] = is_transient(error, retry_statuses)
    return outcome


def http_error_outcome(response: HttpResponse) -> dict[str, Any]:
    """The ``Error`` outcome for an error status (4xx/5xx), using the JSON error body if any.

    LivePerson's error body ``{"time", "message" (optional), "internalCode"}`` gives the message
    and ``internalCode`` (the emulator's ``field`` extension gives the field); any other body
    gives ``HTTP <status> <phrase>``::

        >>> http_error_outcome(HttpResponse(
        ...     400, {}, '{"time":1469543282471,"message":"Illegal Version","internalCode":33}'
        ... ))["error"]
        {'code': 400, 'message': 'Illegal Version', 'field': None, 'internalCode': 33}
        >>> http_error_outcome(HttpResponse(502, {}, "<html>"))["error"]["message"]
        'HTTP 502 Bad Gateway'
    """
    status = response.status
    body = _json_or_none(response.body)
    generic = f"HTTP {status} {_phrase(status)}".rstrip()
    if not isinstance(body, dict):
        return error_outcome(status, generic)
    message = body.get("message")
    field = body.get("field")
    extra = {}
    code = _internal_code(body)
    if code is not None:
        extra["internalCode"] = code
    return error_outcome(
        status,
        message[:2000] if isinstance(message, str) and message.strip() else generic,
        field=field[:200] if isinstance(field, str) and field else None,
        **extra,
    )


def _internal_code(body: Mapping[str, Any]) -> int | None:
    """``internalCode`` as a whole number (LivePerson sends an int; a numeric string is taken)."""
    code = body.get("internalCode")
    if _is_int(code) and abs(code) < 2**53:
        return int(code)
    if isinstance(code, str) and code.strip().isdigit() and len(code.strip()) <= 9:
        return int(code.strip())
    return None


def loading_visitor_id(body: object) -> str | None:
    """The vid of a cold account's answer (``Loading account: {acc}, vid: {vid}``), or ``None``.

    LivePerson names the visitor only in the message text; the retry must send it in the path::

        >>> loading_visitor_id({"time": 1499263964605, "internalCode": 20,
        ...                     "message": "Loading account: 123, vid: abc-1"})
        'abc-1'
        >>> loading_visitor_id({"message": "Loading account: 123, vid: ", "internalCode": 20})
    """
    if not isinstance(body, Mapping):
        return None
    message = body.get("message")
    if not isinstance(message, str) or len(message) > 400:
        return None
    match = _LOADING.match(message.strip())
    return match.group(1) if match else None


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
    for key in _DETAIL_IDS:
        if not _is_id(details.get(key)):
            return (
                f"engagementDetails.{key} must be an id (a string or a whole number); "
                f"got {_show_key(details, key)}"
            )
    for key in _DETAIL_STRINGS:
        if not isinstance(details.get(key), str):
            return f"engagementDetails.{key} must be a string; got {_show_key(details, key)}"
    for key in _DETAIL_INTS:
        if not _is_int(details.get(key)):
            return f"engagementDetails.{key} must be an integer; got {_show_key(details, key)}"
    for key in _OPTIONAL_IDS:
        if details.get(key) is not None and not _is_id(details[key]):
            return (
                f"engagementDetails.{key} must be an id (a string or a whole number); "
                f"got {_show(details[key])}"
            )
    skill_name = details.get("skillName")
    if skill_name is not None and not isinstance(skill_name, str):
        return f"engagementDetails.skillName must be a string; got {_show(skill_name)}"
    return None


def classify_engagement(
    response: HttpResponse, retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> Answer:
    """Classify the answer to a check (create session, ``POST .../visitors[/{vid}]``).

    200/201 with a valid body pass through as received (unknown keys kept, whatever the content
    type says; only keys named like ``Object.prototype`` members are dropped, see
    :func:`plain_data`); a cold account's 500/20 is ``account_loading``; error statuses in
    ``retry_statuses`` are retryable, other 4xx/5xx final; anything else is malformed::

        >>> classify_engagement(HttpResponse(400, {}, "{}")).kind.value
        'final_status'
        >>> classify_engagement(HttpResponse(200, {}, "<!DOCTYPE html>")).kind.value
        'malformed'
    """
    status = response.status
    if status >= 400:
        answer = error_answer(response, retry_statuses)
        if status == 500 and answer.outcome["error"].get("internalCode") == ACCOUNT_LOADING_CODE:
            vid = loading_visitor_id(_json_or_none(response.body))
            session = Session(vid) if vid else None
            return Answer(AnswerKind.ACCOUNT_LOADING, status, answer.outcome, None, session)
        return answer
    if status not in (200, 201):
        return _malformed(response, f"unexpected HTTP status {status} {_phrase(status)}".rstrip())
    body = _json_or_none(response.body)
    if body is _NOT_JSON:
        return _malformed(response, _not_json(response))
    body = plain_data(body)
    problem = engagement_problem(body)
    if problem is not None:
        return _malformed(response, problem)
    kind = AnswerKind.AVAILABLE if body["status"] == "Available" else AnswerKind.NOT_AVAILABLE
    return Answer(kind, status, body, response.header("retry-after"), session_from_answer(body))


def classify_report(
    response: HttpResponse, retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> Answer:
    """Classify the answer to a report (update session, ``PUT .../visitors/{vid}``): any 2xx
    means delivered (LivePerson answers 200 with an empty body).

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
        outcome: dict[str, Any] = plain_data(body) if isinstance(body, dict) else {}
        outcome.update({"status": "Reported", "delivered": True})
        return Answer(AnswerKind.ACCEPTED, status, outcome)
    if status >= 400:
        answer = error_answer(response, retry_statuses)
    else:
        answer = _malformed(response, f"unexpected HTTP status {status} {_phrase(status)}".rstrip())
    answer.outcome["delivered"] = False
    return answer


def error_answer(
    response: HttpResponse, retry_statuses: frozenset[int] = DEFAULT_RETRY_STATUSES
) -> Answer:
    """The :class:`Answer` to an error status (4xx/5xx): retryable when ``retry_statuses`` holds
    it, else final; its outcome is :func:`http_error_outcome`'s.

    >>> error_answer(HttpResponse(503, {"retry-after": "1"})).kind.value
    'retryable_status'
    """
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
    try:
        jsontext.loads(text)
    except jsontext.JsonBoundsError as exc:
        return f"the body is JSON {exc}, past what this client reads"
    except (ValueError, TypeError, RecursionError):
        pass
    kind = response.header("content-type") or "no content type"
    return f"the body is not JSON ({kind}; starts with {text[:40]!r})"


_NOT_JSON = object()


def _json_or_none(text: str) -> Any:
    """The parsed JSON value, or ``_NOT_JSON`` (``null`` is a JSON value, not a failure).

    Text past the bounds of ``engage_web.core.jsontext`` (a hostile answer nested thousands deep,
    which would overflow Pyodide's stack) is never parsed: it is not JSON this client reads.
    """
    try:
        return jsontext.loads(text)
    except (ValueError, TypeError, RecursionError):
        return _NOT_JSON


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_id(value: object) -> bool:
    return (isinstance(value, str) and bool(value)) or _is_int(value)


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
    text = shown(value, as_json=True)
    return text if isinstance(value, str) else f"{text} ({_json_type(value)})"


def _show_key(mapping: Mapping[str, object], key: str) -> str:
    return _show(mapping[key]) if key in mapping else "nothing (missing)"


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
