"""The wire of LivePerson's App Engagement API, in one place (``docs/protocol.md``).

Three exchanges, each built here and nowhere else, so the client and the emulator cannot drift:

- **Domain API look-up**: ``GET {domainApi}/api/account/{accountId}/service/msdkgw/baseURI.json
  ?version=1.0`` answers ``{"service", "account", "baseURI"}``; the base URL is
  ``https://{baseURI}`` (:func:`base_from_domain_answer`).
- **Create session** (the check): ``POST {base}/api/account/{accountId}/app/engagement/visitors
  [/{vid}]?v=1.0[&sid={sid}]`` with the request's ``appType`` (always sent), ``appDetails``,
  ``consumerSections`` and ``engagementAttributes``.
- **Update session** (the report): ``PUT`` on the same URL (both ids required) with
  ``{"pageId", "impAttributes", "engagementAttributes"}``.

The visitor id is a path segment and the session id a query parameter; neither ever travels in
a body::

    >>> from engage_web.core.session import Session
    >>> session_url("https://va.example/", "demo", Session("v 1", "s1"))
    'https://va.example/api/account/demo/app/engagement/visitors/v%201?v=1.0&sid=s1'
    >>> session_url("http://127.0.0.1:8765", "demo", None)
    'http://127.0.0.1:8765/api/account/demo/app/engagement/visitors?v=1.0'
    >>> domain_url("https://api.liveperson.net", "123")
    'https://api.liveperson.net/api/account/123/service/msdkgw/baseURI.json?version=1.0'
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .sde import IMPRESSION_TYPES
from .session import Session
from .transport import HttpRequest

__all__ = [
    "API_VERSION",
    "BODY_KEYS",
    "DEFAULT_DOMAIN_API",
    "DOMAIN_API_VERSION",
    "DOMAIN_PATH",
    "HEADERS",
    "METHOD_OVERRIDE_HEADER",
    "SERVICE",
    "VISITORS_PATH",
    "VISITOR_PATH",
    "base_from_domain_answer",
    "create_session_body",
    "create_session_request",
    "domain_request",
    "domain_url",
    "is_loopback_host",
    "session_url",
    "split_attributes",
    "update_session_body",
    "update_session_request",
]

#: The ``v`` query parameter of the App Engagement API (any other value: 400, internalCode 33).
API_VERSION = "1.0"
#: The ``version`` query parameter of the Domain API.
DOMAIN_API_VERSION = "1.0"
#: The Domain API service name of the App Engagement API.
SERVICE = "msdkgw"
#: Where the Domain API lives unless the page, the CLI or a test says otherwise.
DEFAULT_DOMAIN_API = "https://api.liveperson.net"

#: Path templates (``str.format``); the emulator routes the same paths.
DOMAIN_PATH = "/api/account/{account_id}/service/{service}/baseURI.json"
#: Create session with no visitor yet (LivePerson's docs show only the form with a visitor id).
VISITORS_PATH = "/api/account/{account_id}/app/engagement/visitors"
#: Create and update session for a known visitor.
VISITOR_PATH = VISITORS_PATH + "/{visitor_id}"

#: The keys of a normalised request that go in the create-session body, in this order.
BODY_KEYS = ("appType", "appDetails", "consumerSections", "engagementAttributes")
#: ``appType`` is required by the REST API and optional in ``getEngagement``: the one value the
#: seed allows is sent when the page gives none.
DEFAULT_APP_TYPE = "EXTERNAL"
HEADERS: Mapping[str, str] = {"Content-Type": "application/json", "Accept": "application/json"}
#: Sent with ``POST`` instead of a ``PUT`` where a CORS allow-list has no ``PUT``.
METHOD_OVERRIDE_HEADER = "X-HTTP-Method-Override"

# A host name or address with an optional port, as the Domain API's ``baseURI`` holds it.
_HOST_PORT = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
    r"[A-Za-z0-9])?)*\.?|\[[0-9A-Fa-f:.]+\]|[0-9.]+)(?::[0-9]{1,5})?$"
)


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def domain_url(domain_api: str, account_id: str, service: str = SERVICE) -> str:
    """The Domain API URL that names the base of ``service`` for ``account_id``.

    >>> domain_url("http://127.0.0.1:8765/", "demo")
    'http://127.0.0.1:8765/api/account/demo/service/msdkgw/baseURI.json?version=1.0'
    """
    path = DOMAIN_PATH.format(account_id=quote(account_id, safe=""), service=service)
    return f"{domain_api.rstrip('/')}{path}?version={DOMAIN_API_VERSION}"


def domain_request(domain_api: str, account_id: str) -> HttpRequest:
    """The ``GET`` of one Domain API look-up.

    >>> domain_request("https://api.liveperson.net", "123").method
    'GET'
    """
    return HttpRequest("GET", domain_url(domain_api, account_id), {"Accept": "application/json"})


def is_loopback_host(host: str | None) -> bool:
    """True for a host name that can only mean this machine (``localhost``, 127/8, ``::1``).

    >>> [is_loopback_host(h) for h in ("localhost", "127.0.0.2", "::1", "example.com")]
    [True, True, True, False]
    """
    if not host:
        return False
    name = host.lower().rstrip(".").strip("[]")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def base_from_domain_answer(body: object, domain_api: str, account_id: str) -> str:
    """The base URL named by a Domain API answer, or ``ValueError`` saying what is wrong.

    ``baseURI`` is a host (with an optional port), no scheme: the base is ``https://{baseURI}``.
    Only when the Domain API itself is on a loopback address (the emulator) and names a loopback
    host is the Domain API's own scheme kept, so an ``http://`` base never leaves the machine::

        >>> answer = {"service": "msdkgw", "account": "123", "baseURI": "va.msdkgw.example"}
        >>> base_from_domain_answer(answer, "https://api.liveperson.net", "123")
        'https://va.msdkgw.example'
        >>> answer = {"service": "msdkgw", "account": "demo", "baseURI": "127.0.0.1:8765"}
        >>> base_from_domain_answer(answer, "http://127.0.0.1:8765", "demo")
        'http://127.0.0.1:8765'
    """
    if not isinstance(body, Mapping):
        raise ValueError("the Domain API answer is not a JSON object")
    host = body.get("baseURI")
    if not isinstance(host, str) or not host.strip():
        raise ValueError("the Domain API answer has no baseURI")
    host = host.strip()
    if len(host) > 260 or not _HOST_PORT.fullmatch(host):
        raise ValueError(f"baseURI must be a host name with an optional port; got {host[:80]!r}")
    service = body.get("service")
    if service is not None and service != SERVICE:
        raise ValueError(
            f"the Domain API answered for service {str(service)[:40]!r}, not {SERVICE}"
        )
    account = body.get("account")
    if account is not None and str(account) != account_id:
        raise ValueError(
            f"the Domain API answered for account {str(account)[:40]!r}, not {account_id!r}"
        )
    domain = urlsplit(domain_api)
    hostname = urlsplit(f"//{host}").hostname
    scheme = "https"
    if domain.scheme == "http" and is_loopback_host(domain.hostname) and is_loopback_host(hostname):
        scheme = "http"
    return f"{scheme}://{host.rstrip('.')}"


def session_url(base: str, account_id: str, session: Session | None) -> str:
    """``{base}/api/account/{accountId}/app/engagement/visitors[/{vid}]?v=1.0[&sid={sid}]``.

    >>> session_url("https://h", "a1", Session("v1"))
    'https://h/api/account/a1/app/engagement/visitors/v1?v=1.0'
    """
    account = quote(account_id, safe="")
    if session is None or not session.visitor_id:
        path = VISITORS_PATH.format(account_id=account)
    else:
        visitor = quote(session.visitor_id, safe="")
        path = VISITOR_PATH.format(account_id=account, visitor_id=visitor)
    query = {"v": API_VERSION}
    if session is not None and session.visitor_id and session.session_id:
        query["sid"] = session.session_id
    return f"{base.rstrip('/')}{path}?{urlencode(query, quote_via=quote)}"


def create_session_body(request: Mapping[str, Any]) -> str:
    """The JSON body of a check: ``appType`` (``EXTERNAL`` unless given) and the other
    ``BODY_KEYS`` present in the normalised ``request``; ``vid``/``sid`` are left out.

    >>> create_session_body({"vid": "v", "consumerSections": ["Support"]})
    '{"appType": "EXTERNAL", "consumerSections": ["Support"]}'
    """
    body = {key: request[key] for key in BODY_KEYS if request.get(key) is not None}
    body.setdefault("appType", DEFAULT_APP_TYPE)
    return _json({key: body[key] for key in BODY_KEYS if key in body})


def create_session_request(
    base: str, account_id: str, request: Mapping[str, Any], session: Session | None
) -> HttpRequest:
    """The ``POST`` of one check attempt.

    >>> create_session_request("https://h", "a1", {}, None).method
    'POST'
    """
    url = session_url(base, account_id, session)
    return HttpRequest("POST", url, dict(HEADERS), create_session_body(request))


def split_attributes(attributes: Iterable[Any]) -> tuple[list[Any], list[Any]]:
    """``(impAttributes, engagementAttributes)``: impression events apart from the other SDEs,
    each list in the order given.

    >>> split_attributes([{"type": "cart"}, {"type": "impDisplay"}, {"type": "lead"}])
    ([{'type': 'impDisplay'}], [{'type': 'cart'}, {'type': 'lead'}])
    """
    impressions: list[Any] = []
    others: list[Any] = []
    for sde in attributes:
        kind = sde.get("type") if isinstance(sde, Mapping) else None
        (impressions if kind in IMPRESSION_TYPES else others).append(sde)
    return impressions, others


def update_session_body(page_id: str, attributes: Iterable[Any]) -> str:
    """The JSON body of a report: ``pageId`` and the attributes split in two arrays.

    >>> update_session_body("p1", [{"type": "impAccept"}])
    '{"pageId": "p1", "impAttributes": [{"type": "impAccept"}], "engagementAttributes": []}'
    """
    impressions, others = split_attributes(attributes)
    return _json(
        {"pageId": page_id, "impAttributes": impressions, "engagementAttributes": others}
    )


def update_session_request(
    base: str,
    account_id: str,
    page_id: str,
    attributes: Iterable[Any],
    session: Session,
    *,
    method_override: bool = False,
) -> HttpRequest:
    """The ``PUT`` of one report attempt (both ids required); with ``method_override`` a
    ``POST`` carrying ``X-HTTP-Method-Override: PUT`` instead, for CORS allow-lists without PUT.

    >>> update_session_request("https://h", "a1", "p", [], Session("v", "s")).url
    'https://h/api/account/a1/app/engagement/visitors/v?v=1.0&sid=s'
    >>> update_session_request("https://h", "a1", "p", [], Session("v", "s"),
    ...                        method_override=True).headers[METHOD_OVERRIDE_HEADER]
    'PUT'
    """
    if not session.established:
        raise ValueError("an update session needs both the visitor id and the session id")
    headers = dict(HEADERS)
    method = "PUT"
    if method_override:
        method = "POST"
        headers[METHOD_OVERRIDE_HEADER] = "PUT"
    url = session_url(base, account_id, session)
    return HttpRequest(method, url, headers, update_session_body(page_id, attributes))
