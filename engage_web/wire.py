"""The wire format: URLs, headers and bodies of the two calls (``contract.md``, "Wire format").

Both the client and the emulator import the path templates from here so they cannot drift::

    >>> from engage_web.session import Session
    >>> engagement_url("https://example.test/", "demo", Session("v 1", "s1"))
    'https://example.test/api/account/demo/app/engagement?v=1.0&vid=v%201&sid=s1'
    >>> report_url("http://127.0.0.1:8765", "demo", Session("v1", "s1"))
    'http://127.0.0.1:8765/api/account/demo/app/report?v=1.0&vid=v1&sid=s1'

The visitor session travels in the query (``vid``, ``sid``), never in the body; the body of the
check holds the normalised request's ``appType``, ``appDetails``, ``consumerSections`` and
``engagementAttributes``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from .session import Session
from .transport import HttpRequest

__all__ = [
    "API_VERSION",
    "BODY_KEYS",
    "ENGAGEMENT_PATH",
    "HEADERS",
    "REPORT_PATH",
    "engagement_body",
    "engagement_request",
    "engagement_url",
    "report_body",
    "report_request",
    "report_url",
]

API_VERSION = "1.0"
#: Path templates (``str.format`` with ``account_id``); the emulator routes the same paths.
ENGAGEMENT_PATH = "/api/account/{account_id}/app/engagement"
REPORT_PATH = "/api/account/{account_id}/app/report"
#: The keys of a normalised request that go in the check's body, in this order.
BODY_KEYS = ("appType", "appDetails", "consumerSections", "engagementAttributes")
HEADERS: Mapping[str, str] = {"Content-Type": "application/json", "Accept": "application/json"}


def _url(endpoint: str, template: str, account_id: str, session: Session | None) -> str:
    path = template.format(account_id=quote(account_id, safe=""))
    query = {"v": API_VERSION, **(session.query() if session else {})}
    return f"{endpoint.rstrip('/')}{path}?{urlencode(query, quote_via=quote)}"


def engagement_url(endpoint: str, account_id: str, session: Session | None = None) -> str:
    """``{endpoint}/api/account/{accountId}/app/engagement?v=1.0[&vid=...[&sid=...]]``.

    >>> engagement_url("http://h", "a1")
    'http://h/api/account/a1/app/engagement?v=1.0'
    """
    return _url(endpoint, ENGAGEMENT_PATH, account_id, session)


def report_url(endpoint: str, account_id: str, session: Session | None) -> str:
    """``{endpoint}/api/account/{accountId}/app/report?v=1.0&vid=...&sid=...``.

    >>> report_url("http://h", "a1", Session("v", "s"))
    'http://h/api/account/a1/app/report?v=1.0&vid=v&sid=s'
    """
    return _url(endpoint, REPORT_PATH, account_id, session)


def engagement_body(request: Mapping[str, Any]) -> str:
    """The JSON body of a check: the ``BODY_KEYS`` present (not ``None``) in ``request``.

    >>> engagement_body({"appType": "EXTERNAL", "vid": "v", "consumerSections": ["Support"]})
    '{"appType": "EXTERNAL", "consumerSections": ["Support"]}'
    """
    body = {key: request[key] for key in BODY_KEYS if request.get(key) is not None}
    return json.dumps(body, ensure_ascii=False, separators=(", ", ": "))


def report_body(report: Mapping[str, Any]) -> str:
    """The JSON body of a report: ``engagementAttributes`` and, when known, ``pageId``.

    >>> report_body({"engagementAttributes": [], "pageId": "p1"})
    '{"engagementAttributes": [], "pageId": "p1"}'
    """
    body: dict[str, Any] = {"engagementAttributes": list(report.get("engagementAttributes", []))}
    if report.get("pageId") is not None:
        body["pageId"] = report["pageId"]
    return json.dumps(body, ensure_ascii=False, separators=(", ", ": "))


def engagement_request(
    endpoint: str, account_id: str, request: Mapping[str, Any], session: Session | None
) -> HttpRequest:
    """The ``POST`` of one check attempt.

    >>> engagement_request("http://h", "a1", {"appType": "EXTERNAL"}, None).method
    'POST'
    """
    url = engagement_url(endpoint, account_id, session)
    return HttpRequest("POST", url, dict(HEADERS), engagement_body(request))


def report_request(
    endpoint: str, account_id: str, report: Mapping[str, Any], session: Session
) -> HttpRequest:
    """The ``PUT`` of one report attempt (the session is required).

    >>> report_request("http://h", "a1", {"engagementAttributes": []}, Session("v", "s")).method
    'PUT'
    """
    return HttpRequest(
        "PUT", report_url(endpoint, account_id, session), dict(HEADERS), report_body(report)
    )
