"""The OpenAPI 3.1 document of the emulator's public routes, generated from the catalogue.

``openapi.json`` (next to this module) is the committed output, served at ``GET /openapi.json``.
It is generated, never edited by hand, from the same constants and schemas the validator uses
(``engage_web.core.validation.request_json_schema`` and ``update_json_schema``,
``engage_web.core.sde``, the paths of ``engage_web.core.wire``), so enums, required fields and SDE
types cannot drift; ``tests/emulator/test_openapi.py`` fails when the file is stale and checks each
route's documented status codes against the ones the emulator really answers. The routes are those
of LivePerson's App Engagement API and Domain API (``docs/protocol.md``). Regenerate after changing
the catalogue or a route::

    python3 -m engage_web.cpython.emulator.openapi    # rewrites cpython/emulator/openapi.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from engage_web.core.sde import APP_TYPES
from engage_web.core.validation import (
    ACCOUNT_ID_PATTERN,
    SESSION_ID_PATTERN,
    request_json_schema,
    update_json_schema,
)
from engage_web.core.wire import (
    API_VERSION,
    DOMAIN_API_VERSION,
    DOMAIN_PATH,
    METHOD_OVERRIDE_HEADER,
    VISITOR_PATH,
    VISITORS_PATH,
)

from .app import ILLEGAL_VERSION, MAX_LISTED_ERRORS, SERVICE_NAME
from .faults import MODES, ROUTES
from .limits import (
    BODY_TIMEOUT,
    HEAD_TIMEOUT,
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    MAX_HEADER_COUNT,
)

__all__ = ["OPENAPI_PATH", "ROUTE_STATUSES", "build_openapi", "create_session_schema", "main"]

OPENAPI_PATH = Path(__file__).with_name("openapi.json")

_SESSION = (200, 400, 401, 404, 413, 415, 429, 500, 503)
#: The statuses each public operation can answer (405, 408 and 431 are server-wide).
ROUTE_STATUSES: dict[tuple[str, str], tuple[int, ...]] = {
    ("get", DOMAIN_PATH): (200, 400, 404, 429, 500, 503),
    ("post", VISITORS_PATH): _SESSION,
    ("post", VISITOR_PATH): _SESSION,
    ("put", VISITOR_PATH): _SESSION,
}

_STATUS_TEXT = {
    400: f'Invalid request: validation (internalCode 5) or "{ILLEGAL_VERSION}" (internalCode 33)',
    401: "Visitor session problem: vid (internalCode 37) or sid (internalCode 39)",
    404: "Unknown account (internalCode 18)",
    413: f"Body over {MAX_BODY_BYTES} bytes (64 KiB)",
    415: "Body present but not application/json (UTF-8)",
    429: "Too many requests (injected fault); retry after Retry-After seconds",
    500: 'A cold account (internalCode 20, "Loading account: {accountId}, vid: {vid}": retry '
    "with that vid in the path) or an internal error (internalCode 18)",
    503: "Temporarily unavailable (injected fault); retry after Retry-After seconds",
}
_OK_TEXT = {
    ("get", DOMAIN_PATH): "The base of the service for the account: this emulator's own address",
    ("post", VISITORS_PATH): "The answer of a new session for a new visitor",
    ("post", VISITOR_PATH): "The answer; a new session unless sid names a live one of this visitor",
    ("put", VISITOR_PATH): "Recorded; the body is empty",
}
_SUCCESS_SCHEMA = {
    ("get", DOMAIN_PATH): "DomainAnswer",
    ("post", VISITORS_PATH): "CreateSessionResponse",
    ("post", VISITOR_PATH): "CreateSessionResponse",
    ("put", VISITOR_PATH): None,
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _id_schema(description: str) -> dict[str, Any]:
    return {
        "type": "string",
        "pattern": f"^{SESSION_ID_PATTERN.pattern}$",
        "description": description,
    }


def create_session_schema() -> dict[str, Any]:
    """The create-session body: ``validation.request_json_schema`` without ``vid``/``sid`` (they
    travel in the URL) and with ``appType`` required (the REST API needs it).

    Example::

        >>> schema = create_session_schema()
        >>> schema["required"], "vid" in schema["properties"]
        (['appType'], False)
    """
    schema = request_json_schema()
    properties = {k: v for k, v in schema["properties"].items() if k not in ("vid", "sid")}
    properties["appType"] = {"enum": list(APP_TYPES)}
    return {
        **schema,
        "description": "The getEngagement request (vid in the path, sid in the query, never in "
        "the body). Impression events are refused here: send them with an update session.",
        "properties": properties,
        "required": ["appType"],
    }


def _id_number_or_string(description: str) -> dict[str, Any]:
    return {
        "type": ["string", "integer"],
        "description": f"{description}; a string by default (as LivePerson's example sends it), "
        "a number for an account with numericIds (as its docs type it)",
    }


def _schemas() -> dict[str, Any]:
    update = update_json_schema()
    update["description"] = (
        "pageId: a page id this session was answered with; impAttributes: impression events "
        "naming engagements this session was offered; engagementAttributes: other SDEs."
    )
    return {
        "CreateSessionRequest": create_session_schema(),
        "UpdateSessionRequest": update,
        "EngagementDetails": {
            "type": "object",
            "properties": {
                "campaignId": _id_number_or_string("campaign id"),
                "engagementId": _id_number_or_string("engagement id"),
                "contextId": {"type": "string"},
                "windowId": {"type": "string"},
                "language": {"type": "string", "examples": ["en-US"]},
                "engagementRevision": {"type": "integer"},
                "validForSeconds": {"type": "integer", "minimum": 1},
                "skillId": {"type": "integer"},
                "skillName": {"type": "string"},
                "connectorId": _id_number_or_string("only for engagements flagged authenticated"),
            },
            "required": [
                "campaignId",
                "engagementId",
                "contextId",
                "windowId",
                "language",
                "engagementRevision",
                "validForSeconds",
            ],
        },
        "CreateSessionResponse": {
            "type": "object",
            "description": "The seed's response object; clients must tolerate unknown keys.",
            "properties": {
                "status": {"enum": ["Available", "NotAvailable"]},
                "sessionId": _id_schema("the visit: send it as sid"),
                "visitorId": _id_schema("the device: send it in the path"),
                "pageId": {
                    "type": "string",
                    "description": "the page of this answer; an update session names it",
                },
                "engagementDetails": _ref("EngagementDetails"),
            },
            "required": ["status", "sessionId", "visitorId", "pageId"],
        },
        "DomainAnswer": {
            "type": "object",
            "properties": {
                "service": {"type": "string", "examples": ["msdkgw"]},
                "account": {"type": "string"},
                "baseURI": {
                    "type": "string",
                    "description": "a host with an optional port, no scheme",
                },
            },
            "required": ["service", "account", "baseURI"],
        },
        "Error": {
            "type": "object",
            "properties": {
                "time": {"type": "integer", "description": "ms since the Unix epoch"},
                "message": {"type": "string"},
                "internalCode": {
                    "type": "integer",
                    "description": "5 invalid data, 33 illegal version, 37 vid, 39 sid, "
                    "20 account loading (cold), 18 unknown account or route, or internal error, "
                    "0 none",
                },
                "field": {
                    "type": "string",
                    "description": "emulator extension: the dotted path of the value at fault, "
                    "e.g. appDetails.os; absent when no single field is",
                },
                "errorCount": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "validation errors only: how many problems were found",
                },
                "errors": {
                    "type": "array",
                    "maxItems": MAX_LISTED_ERRORS,
                    "description": "validation errors only: the problems found (at most "
                    f"{MAX_LISTED_ERRORS}; errorCount has the total)",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string"},
                            "message": {"type": "string"},
                            "status": {"enum": [400, 401]},
                        },
                        "required": ["field", "message", "status"],
                    },
                },
            },
            "required": ["time", "message", "internalCode"],
        },
    }


def _responses(method: str, path: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for status in ROUTE_STATUSES[(method, path)]:
        entry: dict[str, Any] = {
            "description": _OK_TEXT[(method, path)] if status == 200 else _STATUS_TEXT[status],
            "headers": {"Cache-Control": {"schema": {"const": "no-store"}}},
        }
        success = _SUCCESS_SCHEMA[(method, path)]
        if status >= 300:
            entry["content"] = {"application/json": {"schema": _ref("Error")}}
        elif success is not None:
            entry["content"] = {"application/json": {"schema": _ref(success)}}
        if status in (429, 503):
            entry["headers"]["Retry-After"] = {
                "required": True,
                "description": "seconds to wait (exposed to cross-origin pages)",
                "schema": {"type": "integer", "minimum": 0},
            }
        out[str(status)] = entry
    return out


def _openapi_path(template: str) -> str:
    return template.format(account_id="{accountId}", visitor_id="{visitorId}", service="{service}")


def build_openapi() -> dict[str, Any]:
    """The document as a dict (what ``openapi.json`` must hold).

    Example::

        >>> build_openapi()["openapi"]
        '3.1.0'
    """
    account = {
        "name": "accountId",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": f"^{ACCOUNT_ID_PATTERN.pattern}$"},
    }
    version = {
        "name": "v",
        "in": "query",
        "required": True,
        "description": f'any other value answers 400 "{ILLEGAL_VERSION}" (internalCode 33)',
        "schema": {"enum": [API_VERSION]},
    }
    visitor = {
        "name": "visitorId",
        "in": "path",
        "required": True,
        "description": "the visitorId of an earlier answer (or of a Loading account error); "
        "malformed: 401",
        "schema": _id_schema("visitor id"),
    }

    def sid(required: bool, text: str) -> dict[str, Any]:
        return {
            "name": "sid",
            "in": "query",
            "required": required,
            "description": text,
            "schema": _id_schema("session id"),
        }

    body = {"application/json": {"schema": _ref("CreateSessionRequest")}}
    create = {
        "summary": "Create session: is an engagement available for this visitor now?",
        "requestBody": {"required": True, "content": body},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "engage-web local emulator of LivePerson's App Engagement API",
            "version": API_VERSION,
            "description": (
                "Create session (the engagement check) and update session (SDEs and impression "
                "events), plus the Domain API look-up that names the base URL. Sessions: a "
                "check with the vid and sid of a live session continues it; any other check "
                "starts a new session, never an error (no ids: a new visitor; vid alone, or an "
                "unknown or expired sid: the same visitor). Sessions expire after 30 minutes "
                "idle and 6 hours at most. An update session needs a live vid/sid pair. Bodies: "
                f"at most {MAX_BODY_BYTES} bytes of UTF-8 JSON, arriving within "
                f"{BODY_TIMEOUT:g} s (else 408); invalid UTF-8, duplicate keys, NaN/Infinity, "
                "lone surrogate escapes, integers of over 4300 digits and non-object bodies "
                f"answer 400. Requests with over {MAX_HEADER_COUNT} header lines answer 431; "
                f"the server refuses heads over {MAX_HEAD_BYTES} bytes (431) or slower than "
                f"{HEAD_TIMEOUT:g} s (408). Other methods answer 405 with Allow. Every answer "
                "is Cache-Control: no-store. Control routes under /_emulator/ (skills, cold "
                f"accounts, faults with modes {', '.join(MODES)} and routes "
                f"{', '.join(ROUTES)}, sessions, state, requests, reset) are for local use and "
                "not part of this document."
            ),
        },
        "paths": {
            _openapi_path(DOMAIN_PATH): {
                "get": {
                    "operationId": "domainBaseUri",
                    "summary": "Domain API: the base URL of a service for an account",
                    "description": "Any service name of 1 to 64 characters "
                    f"({SERVICE_NAME.pattern}) is answered with this server's own address (the "
                    "Host the request reached), e.g. msdkgw for the App Engagement API.",
                    "parameters": [
                        account,
                        {
                            "name": "service",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": f"^{SERVICE_NAME.pattern}$"},
                        },
                        {
                            "name": "version",
                            "in": "query",
                            "required": True,
                            "description": f'any other value answers 400 "{ILLEGAL_VERSION}"',
                            "schema": {"enum": [DOMAIN_API_VERSION]},
                        },
                    ],
                    "responses": _responses("get", DOMAIN_PATH),
                }
            },
            _openapi_path(VISITORS_PATH): {
                "post": {
                    "operationId": "createSessionNewVisitor",
                    **create,
                    "description": "A check with no visitor yet: a new visitor and session. A "
                    "sid without a visitor id in the path answers 401.",
                    "parameters": [
                        account,
                        version,
                        sid(False, "not allowed without a visitor id in the path (401)"),
                    ],
                    "responses": _responses("post", VISITORS_PATH),
                }
            },
            _openapi_path(VISITOR_PATH): {
                "post": {
                    "operationId": "createSession",
                    **create,
                    "description": "A check for a known visitor. With the header "
                    f"{METHOD_OVERRIDE_HEADER}: PUT this POST is an update session instead (its "
                    "body and answers are the PUT's), for CORS allow-lists without PUT.",
                    "parameters": [
                        account,
                        visitor,
                        version,
                        sid(
                            False,
                            "the sessionId of an earlier answer; unknown or expired: a new session",
                        ),
                    ],
                    "responses": _responses("post", VISITOR_PATH),
                },
                "put": {
                    "operationId": "updateSession",
                    "summary": "Update session: add SDEs and impression events to a live session",
                    "description": "Needs the vid and sid of a live session (else 401, "
                    "internalCode 39). pageId must be one this session was answered with, and "
                    "each impression event must name (campaign, engId) an engagement this "
                    "session was offered, else 400 and nothing is recorded.",
                    "parameters": [
                        account,
                        visitor,
                        version,
                        sid(True, "the sessionId of the answer the update belongs to"),
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": _ref("UpdateSessionRequest")}},
                    },
                    "responses": _responses("put", VISITOR_PATH),
                },
            },
        },
        "components": {"schemas": _schemas()},
    }


def render() -> str:
    """The exact text of ``openapi.json``."""
    return json.dumps(build_openapi(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Rewrite ``openapi.json`` (``--check``: only report whether it is up to date)."""
    args = sys.argv[1:] if argv is None else argv
    text = render()
    current = OPENAPI_PATH.read_text("utf-8") if OPENAPI_PATH.exists() else ""
    if "--check" in args:
        if current != text:
            print(f"{OPENAPI_PATH} is stale: run python3 -m engage_web.cpython.emulator.openapi")
            return 1
        return 0
    OPENAPI_PATH.write_text(text, "utf-8")
    print(f"wrote {OPENAPI_PATH}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
